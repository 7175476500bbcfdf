"""The window speaks the user's language: nothing escapes translation, the shipped
catalogues are current and complete, and started in German the window reads German."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import QLibraryInfo, QLocale, Qt
from PySide6.QtWidgets import QApplication

from peft_studio_offline.gui import MainWindow, formatting
from peft_studio_offline.gui.i18n import TRANSLATIONS_DIR, installed_files
from tests.gui.conftest import ENGLISH, Core, in_language, until
from tests.gui.untranslated import findings, findings_in_source

ROOT = Path(__file__).resolve().parents[2]
GUI = ROOT / "peft_studio_offline" / "gui"
GERMAN = QLocale(QLocale.Language.German, QLocale.Country.Germany)
_HOLES = re.compile(r"\{\w+\}|%Ln|%n|%v|%m")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "translations", ROOT / "packaging/translations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _messages(language: str) -> dict[tuple[str, str], ET.Element]:
    ts = ROOT / "resources" / "translations" / f"peft_studio_offline_{language}.ts"
    return {
        (context.findtext("name") or "", message.findtext("source") or ""): message
        for context in ET.parse(ts).getroot().iter("context")
        for message in context.iter("message")
    }


# ----------------------------------------------------------------- nothing escapes


def test_no_text_in_the_window_escapes_translation() -> None:
    found = findings(GUI)
    assert not found, "\n".join(str(f) for f in found)


@pytest.mark.parametrize(
    "source",
    [
        'QLabel("Hello")',
        'self.button.setToolTip("Send it now")',
        'menu.addMenu("&Tools")',
        'box.setText(f"Deleted {n} operations")',
        'tree.setHeaderLabels(["Name", translate("X", "Size")])',
        'bar.showMessage("Saved to " + str(path), 3000)',
        'QAction("&Open", window)',
        'label.setText("Yes" if ok else translate("X", "No"))',
    ],
)
def test_the_check_finds_untranslated_text(source: str) -> None:
    assert findings_in_source(source)


@pytest.mark.parametrize(
    "source",
    [
        'QLabel(translate("X", "Hello"))',
        'box.setText(translate("X", "Deleted %Ln operation(s)", None, n))',
        'label.setText(f"{first} · {second}")',
        'item = QTreeWidgetItem(["#", "—", "0"])',
        'log.warning("Could not %s", what)',
        'label.setText(once.translate("X", "Due now"))',
    ],
)
def test_the_check_lets_translated_text_and_symbols_pass(source: str) -> None:
    assert not findings_in_source(source)


def _marked_in_source() -> dict[tuple[str, str], bool]:
    """(context, text) of every literal message in the window's source, and whether it
    counts (a number is passed, or %Ln is in it)."""
    marked: dict[tuple[str, str], bool] = {}
    for path in GUI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name not in ("translate", "QT_TRANSLATE_NOOP") or len(node.args) < 2:
                continue
            context, text = node.args[0], node.args[1]
            if isinstance(context, ast.Constant) and isinstance(text, ast.Constant):
                key = (str(context.value), str(text.value))
                marked[key] = marked.get(key, False) or len(node.args) >= 4 or "%Ln" in key[1]
    return marked


def test_every_message_of_the_source_is_in_the_catalogues() -> None:
    # lupdate skips a call it cannot read (a count that is not a plain name) without a word.
    marked = _marked_in_source()
    assert len(marked) > 300
    german = _messages("de")
    missing = sorted(key for key in marked if key not in german)
    assert not missing, missing
    wrong = sorted(
        key for key, counts in marked.items() if counts != (german[key].get("numerus") == "yes")
    )
    assert not wrong, f"plural forms expected exactly where a count is passed: {wrong}"
    english = _messages("en")
    assert {key for key, counts in marked.items() if counts} == set(english)


# ------------------------------------------------------------ catalogues current


def test_the_catalogues_and_compiled_files_are_current() -> None:
    """lupdate run again gives the committed .ts, lrelease turns it into the shipped .qm
    byte for byte, and no message is left unfinished."""
    problems = _script().check()
    assert not problems, problems


def test_the_check_notices_a_stale_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    ts_dir, qm_dir = tmp_path / "ts", tmp_path / "qm"
    ts_dir.mkdir()
    qm_dir.mkdir()
    for language in script.LANGUAGES:
        committed = script.ts_path(language).read_text(encoding="utf-8")
        # A message the source no longer has, one left unfinished, no compiled file.
        stale = committed.replace(
            "</context>",
            '<message><source>Gone</source><translation type="unfinished"/></message></context>',
            1,
        )
        (ts_dir / script.ts_path(language).name).write_text(stale, encoding="utf-8")
    monkeypatch.setattr(script, "TS_DIR", ts_dir)
    monkeypatch.setattr(script, "QM_DIR", qm_dir)
    problems = script.check()
    assert any("differs from the source" in p for p in problems), problems
    assert any("unfinished" in p for p in problems), problems
    assert any("is not compiled from" in p for p in problems), problems


def test_german_is_complete_with_its_plural_forms_and_placeholders() -> None:
    german = _messages("de")
    assert len(german) > 300
    for (context, source), message in german.items():
        translation = message.find("translation")
        assert translation is not None and translation.get("type") is None, (context, source)
        if message.get("numerus") == "yes":
            forms = [f.text or "" for f in translation.iter("numerusform")]
        else:
            forms = [translation.text or ""]
        # German: one form for 1, one for every other number.
        assert len(forms) == (2 if message.get("numerus") == "yes" else 1), (context, source)
        for form in forms:
            assert form.strip(), (context, source)
            assert sorted(_HOLES.findall(form)) == sorted(_HOLES.findall(source)), (source, form)
            mnemonics = len(re.findall(r"&(?!&|\w+;)", form))
            assert mnemonics == len(re.findall(r"&(?!&|\w+;)", source)), (source, form)


def test_the_compiled_catalogues_ship_inside_the_package() -> None:
    assert TRANSLATIONS_DIR.is_relative_to(GUI)
    shipped = {path.name for path in TRANSLATIONS_DIR.glob("*.qm")}
    assert shipped == {"peft_studio_offline_de.qm", "peft_studio_offline_en.qm"}
    text = (ROOT / "pyproject.toml").read_text()
    assert '"gui/resources/translations/*.qm"' in text


# ------------------------------------------------------------------ in German


@pytest.fixture
def german(qapp: QApplication) -> Iterator[None]:
    with in_language(GERMAN):
        yield


def test_the_system_locale_chooses_the_catalogue(qapp: QApplication) -> None:
    with in_language(GERMAN):
        files = installed_files()
        assert Path(files[0]).name == "peft_studio_offline_de.qm"
        # Qt's own words (standard buttons, file dialogs) come along where PySide6 has them.
        qt_dir = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))
        if (qt_dir / "qtbase_de.qm").exists():
            assert qt_dir / "qtbase_de.qm" in [Path(f) for f in files]
        assert formatting.count(1200) == "1.200"
        assert formatting.status_label("pending") == "Ausstehend"
    assert Path(installed_files()[-1]).name == "peft_studio_offline_en.qm"
    assert formatting.count(1200) == "1,200"
    assert formatting.status_label("pending") == "Pending"
    assert QLocale() == ENGLISH


async def test_started_in_german_the_window_reads_german(german: None, core: Core) -> None:
    window = MainWindow(core.queue, core.monitor, core.engine)
    window.show()
    try:
        await until(lambda: not window.model.is_loading)
        titles = [a.text() for a in window.menuBar().actions()]
        assert titles == ["&Datei", "S&ynchronisation", "&Warteschlange", "&Hilfe"]
        assert window.actions_.sync_now.text() == "&Jetzt synchronisieren"
        headers = [
            window.model.headerData(i, Qt.Orientation.Horizontal)
            for i in range(window.model.columnCount())
        ]
        assert headers[:6] == ["ID", "Was", "Art", "Host", "Status", "Priorität"]
        # German's longer words fit their columns, and the table still fits the window.
        metrics = window.view.fontMetrics()
        for column, word in ((2, "Experiment-Sync"), (4, "Wird gesendet"), (5, "Priorität")):
            assert window.view.columnWidth(column) > metrics.horizontalAdvance(word), word
        widths = sum(window.view.columnWidth(i) for i in range(len(headers) - 1))
        assert widths < window.view.viewport().width()
        # The count above the table in German's singular and plural.
        await core.queue.enqueue("api_call", {"endpoint": "/one"})
        await until(lambda: window.filter_bar.count.text() == "1 Vorgang")
        for i in range(4):
            await core.queue.enqueue("api_call", {"endpoint": f"/more/{i}"})
        await until(lambda: window.filter_bar.count.text() == "5 Vorgänge")
        await until(lambda: window.model.rowCount() == 5)
        assert "Ausstehend" in window.model.data(window.model.index(0, 4))
    finally:
        window.close()
        window.tasks.cancel_all()
        await window.tasks.drain()
        window.deleteLater()


async def test_a_notification_counts_in_german(german: None, core: Core) -> None:
    """'Wieder online' with the operations waiting, one and then several."""
    window = MainWindow(core.queue, core.monitor, core.engine)
    window.show()
    try:
        await until(lambda: not window.model.is_loading)
        await core.queue.enqueue("api_call", {"endpoint": "/one"})
        await until(lambda: window.bridge.stats.get("pending") == 1)
        window.bridge.network_changed.emit("offline", "online")
        assert window.tray.sent[-1] == ("Wieder online", "1 Vorgang wartet auf das Senden.")
        for i in range(4):
            await core.queue.enqueue("api_call", {"endpoint": f"/more/{i}"})
        await until(lambda: window.bridge.stats.get("pending") == 5)
        window.bridge.network_changed.emit("offline", "online")
        assert window.tray.sent[-1] == ("Wieder online", "5 Vorgänge warten auf das Senden.")
    finally:
        window.close()
        window.tasks.cancel_all()
        await window.tasks.drain()
        window.deleteLater()


def test_english_plurals_read_as_english(qapp: QApplication) -> None:
    from peft_studio_offline.gui.i18n import translate

    one = translate("MainWindow", "%Ln operation(s) waiting to be sent.", None, 1)
    many = translate("MainWindow", "%Ln operation(s) waiting to be sent.", None, 1500)
    assert (one, many) == (
        "1 operation is waiting to be sent.",
        "1,500 operations are waiting to be sent.",
    )


# The app's own main() under a German system locale: it prints the window's menu titles.
_MENUS_DRIVER = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from peft_studio_offline.gui import app as gui_app

qt_app = QApplication([])

def poll():
    found = [w for w in qt_app.topLevelWidgets() if w.objectName() == "mainWindow"]
    if not found or not found[0].isVisible() or not found[0].filter_bar.count.text():
        return
    timer.stop()
    window = found[0]
    print("menus:", "|".join(a.text() for a in window.menuBar().actions()), flush=True)
    print("count:", window.filter_bar.count.text(), flush=True)
    window.actions_.quit.trigger()

timer = QTimer()
timer.timeout.connect(poll)
timer.start(50)
sys.exit(gui_app.main([]))
"""


def test_the_app_starts_in_the_system_locales_language(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(_MENUS_DRIVER)
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        LANGUAGE="de",
        LANG="de_DE.UTF-8",
        PEFT_STUDIO_OFFLINE_HOME=str(tmp_path / "home"),
        PEFT_STUDIO_OFFLINE_CHECK_URLS="",
        PEFT_STUDIO_OFFLINE_API_PORT="0",
    )
    env.pop("LC_ALL", None)
    result = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "menus: &Datei|S&ynchronisation|&Warteschlange|&Hilfe" in result.stdout, result.stdout
    assert "count: 0 Vorgänge" in result.stdout, result.stdout
