"""Regenerate the window's translation catalogues from its source.

    .venv/bin/python packaging/translations.py          # update the .ts files, compile .qm
    .venv/bin/python packaging/translations.py --check  # exit 1 if anything is out of date

``pyside6-lupdate`` reads every message of ``peft_studio_offline/gui`` into a fresh catalogue;
the translations already made are carried over from ``resources/translations/*.ts`` (by
context, source text and disambiguation), messages the code no longer has are dropped, and
new ones are marked unfinished. A message that counts (``%n``/``%Ln`` in its text) gets plural
forms: lupdate marks only ``tr()`` calls so, not ``translate(..., n)``. The English catalogue
holds just those plural forms (the source text is English already). ``pyside6-lrelease``
then compiles each into ``peft_studio_offline/gui/resources/translations/*.qm``, which the
package ships and the window loads.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUI = ROOT / "peft_studio_offline" / "gui"
TS_DIR = ROOT / "resources" / "translations"
QM_DIR = GUI / "resources" / "translations"
CATALOGUE = "peft_studio_offline"
# Language: number of plural forms (English and German both say one / many).
LANGUAGES: dict[str, int] = {"en": 2, "de": 2}
PLURAL_MARKS = ("%n", "%Ln")


def tool(name: str) -> str:
    """A Qt tool from PySide6, next to this Python first (the virtual environment's)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (it comes with PySide6).")
    return found


def sources() -> list[Path]:
    return sorted(GUI.rglob("*.py"))


Key = tuple[str, str, str]


def messages(ts: Path) -> dict[Key, ET.Element]:
    """Each message of ``ts`` by (context, source, disambiguation)."""
    found: dict[Key, ET.Element] = {}
    if not ts.exists():
        return found
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            key = (name, message.findtext("source") or "", message.findtext("comment") or "")
            found[key] = message
    return found


def extract(language: str, target: Path) -> None:
    """The catalogue lupdate reads from the source now, with no translations."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.ts"
        subprocess.run(
            [
                tool("pyside6-lupdate"),
                *(str(path) for path in sources()),
                "-ts",
                str(fresh),
                "-locations",
                "none",
                "-source-language",
                "en",
                "-target-language",
                language,
                "-silent",
            ],
            check=True,
        )
        tree = ET.parse(fresh)
    plural_only = language == "en"
    old = messages(target)
    root = tree.getroot()
    for context in list(root.iter("context")):
        name = context.findtext("name") or ""
        for message in list(context.iter("message")):
            source = message.findtext("source") or ""
            plural = any(mark in source for mark in PLURAL_MARKS)
            if plural_only and not plural:
                context.remove(message)
                continue
            key = (name, source, message.findtext("comment") or "")
            _carry_over(message, old.get(key), plural, LANGUAGES[language])
        if not context.findall("message"):
            root.remove(context)
    ET.indent(tree, "    ")
    body = ET.tostring(root, encoding="unicode")
    target.write_text(
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n{body}\n', encoding="utf-8"
    )


def _carry_over(message: ET.Element, old: ET.Element | None, plural: bool, forms: int) -> None:
    translation = message.find("translation")
    if translation is None:
        translation = ET.SubElement(message, "translation")
    translation.clear()
    if plural:
        message.set("numerus", "yes")
        old_forms = [] if old is None else [f.text or "" for f in old.iter("numerusform")]
        for i in range(forms):
            ET.SubElement(translation, "numerusform").text = (
                old_forms[i] if i < len(old_forms) else ""
            )
        done = len(old_forms) >= forms and all(old_forms[:forms])
    else:
        message.attrib.pop("numerus", None)
        old_text = None if old is None else old.find("translation")
        text = (
            old_text.text if old_text is not None and old_text.find("numerusform") is None else ""
        )
        translation.text = text or ""
        done = bool(text)
    if not done:
        translation.set("type", "unfinished")


def unfinished(ts: Path) -> list[str]:
    """The source texts of ``ts`` that have no complete translation."""
    return [
        key[1]
        for key, message in messages(ts).items()
        if (t := message.find("translation")) is None or t.get("type") == "unfinished"
    ]


def compile_qm(ts: Path, qm: Path) -> None:
    subprocess.run(
        [tool("pyside6-lrelease"), "-silent", "-nounfinished", str(ts), "-qm", str(qm)],
        check=True,
    )


def ts_path(language: str, folder: Path | None = None) -> Path:
    return (folder or TS_DIR) / f"{CATALOGUE}_{language}.ts"


def qm_path(language: str, folder: Path | None = None) -> Path:
    return (folder or QM_DIR) / f"{CATALOGUE}_{language}.qm"


def check() -> list[str]:
    """What is out of date, in sentences (empty when everything is current)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for language in LANGUAGES:
            committed = ts_path(language)
            fresh = ts_path(language, folder)
            if committed.exists():
                shutil.copy(committed, fresh)
            extract(language, fresh)
            if not committed.exists() or fresh.read_bytes() != committed.read_bytes():
                problems.append(f"{committed.name} differs from the source's messages.")
            missing = unfinished(committed) if committed.exists() else []
            if missing:
                problems.append(f"{committed.name} has {len(missing)} unfinished: {missing[:5]}")
            qm = qm_path(language, folder)
            if committed.exists():
                compile_qm(committed, qm)
                shipped = qm_path(language)
                if not shipped.exists() or shipped.read_bytes() != qm.read_bytes():
                    problems.append(f"{shipped.name} is not compiled from {committed.name}.")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    options = parser.parse_args(argv)
    if options.check:
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    TS_DIR.mkdir(parents=True, exist_ok=True)
    QM_DIR.mkdir(parents=True, exist_ok=True)
    for language in LANGUAGES:
        ts = ts_path(language)
        extract(language, ts)
        compile_qm(ts, qm_path(language))
        missing = unfinished(ts)
        print(f"{ts.relative_to(ROOT)}: {len(missing)} unfinished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
