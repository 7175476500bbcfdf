"""The window's language: Qt translators for the user's locale, and numbers in its format.

English is the source language. ``install_translators`` loads, for the system locale (or the
one given), the app's catalogue from ``resources/translations`` and Qt's own (standard
buttons, file dialogs); an English catalogue holding only the plural forms is always loaded
under them, so that "%n operation(s)" reads "1 operation" where nothing else applies.

Text goes through ``translate(context, text)`` (a name ``pyside6-lupdate`` finds); a
sentence with a count passes it as ``n`` and writes ``%Ln`` where it goes. Words looked up
for every table cell use ``once.translate``, which asks Qt once per word and language.
``packaging/translations.py`` regenerates the catalogues (see README).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "resources" / "translations"
CATALOGUE = "peft_studio_offline"

_installed: list[QTranslator] = []
_cache: dict[tuple[str, str], str] = {}
_VALUES = "\0values"  # no translation context is named so


def QT_TRANSLATE_NOOP(context: str, text: str) -> str:  # noqa: N802  # the name lupdate reads
    """Marks ``text`` for the catalogue where it is defined; ``translate`` it where shown."""
    return text


def translate(context: str, text: str, disambiguation: str | None = None, n: int = -1) -> str:
    """``text`` in the user's language (``%Ln`` in it becomes ``n`` in the locale's digits)."""
    return QCoreApplication.translate(context, text, disambiguation, n)


class _Once:
    """``once.translate(context, text)``: asked of Qt once per language, then from memory.
    For hot paths (a table model's ``data()`` runs for every cell painted); written as a
    ``translate`` call so that lupdate finds the text."""

    def translate(self, context: str, text: str) -> str:
        key = (context, text)
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = QCoreApplication.translate(context, text)
        return found

    def value(self, name: str, make: Callable[[], str]) -> str:
        """``make()`` worked out once per language and locale (a locale's time format)."""
        key = (_VALUES, name)
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = make()
        return found


once = _Once()


def install_translators(app: QCoreApplication, locale: QLocale | None = None) -> QLocale:
    """Put the translations for ``locale`` (the system's by default) in place of any
    installed before; it becomes the default locale for numbers and dates too."""
    locale = locale or QLocale.system()
    for old in _installed:
        app.removeTranslator(old)
        old.deleteLater()
    _installed.clear()
    _cache.clear()
    QLocale.setDefault(locale)
    # Installed last is searched first: the locale's catalogue, then Qt's, then the English
    # plural forms.
    candidates = (
        (QLocale(QLocale.Language.English), CATALOGUE, str(TRANSLATIONS_DIR)),
        (locale, "qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        (locale, CATALOGUE, str(TRANSLATIONS_DIR)),
    )
    for where, name, folder in candidates:
        translator = QTranslator(app)
        if translator.load(where, name, "_", folder) and app.installTranslator(translator):
            _installed.append(translator)
    return locale


def installed_files() -> list[str]:
    """The catalogues in use, most specific first."""
    return [t.filePath() for t in reversed(_installed)]
