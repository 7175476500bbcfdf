"""A damaged queue database at start: the window offers a new queue and keeps the old aside."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from peft_studio_offline.gui import app as gui_app

    answer = sys.argv[1]
    qt_app = QApplication([])

    def poll():
        for widget in qt_app.topLevelWidgets():
            if widget.objectName() == "corruptDatabaseQuestion" and widget.isVisible():
                print("asked: " + widget.text().splitlines()[0], flush=True)
                buttons = QMessageBox.StandardButton
                widget.button(buttons.Yes if answer == "yes" else buttons.Cancel).click()
            if widget.objectName() == "mainWindow" and widget.isVisible():
                print("window open", flush=True)
                timer.stop()
                widget.findChild(type(widget.actions()[0]), "actionQuit").trigger()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    sys.exit(gui_app.main(["--db", sys.argv[2]]))
    """
)


def _run(tmp_path: Path, answer: str, db: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        PEFT_STUDIO_OFFLINE_CHECK_URLS="",
        PEFT_STUDIO_OFFLINE_API_PORT="0",
    )
    return subprocess.run(
        [sys.executable, str(script), answer, str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_declining_leaves_the_file_and_quits(tmp_path: Path) -> None:
    db = tmp_path / "data" / "queue.db"
    db.parent.mkdir()
    db.write_bytes(b"not a queue at all")
    result = _run(tmp_path, "no", db)
    assert "asked: The queue database" in result.stdout
    assert "window open" not in result.stdout
    assert result.returncode == 1
    assert db.read_bytes() == b"not a queue at all"
    assert sorted(p.name for p in db.parent.iterdir()) == ["queue.db"]


def test_accepting_keeps_the_file_aside_and_opens_a_new_queue(tmp_path: Path) -> None:
    db = tmp_path / "data" / "queue.db"
    db.parent.mkdir()
    db.write_bytes(b"not a queue at all")
    result = _run(tmp_path, "yes", db)
    assert "window open" in result.stdout, result.stderr[-2000:]
    assert result.returncode == 0, result.stderr[-2000:]
    kept = [p for p in db.parent.iterdir() if p.name.startswith("queue.db.corrupt-")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a queue at all"
    assert db.read_bytes().startswith(b"SQLite format 3")
