"""In the real app, the Auto Sync item is checked once automatic sync has started."""

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
    from PySide6.QtWidgets import QApplication

    from peft_studio_offline.core.runtime import get_runtime
    from peft_studio_offline.gui import app as gui_app

    qt_app = QApplication([])

    def poll():
        found = [w for w in qt_app.topLevelWidgets() if w.objectName() == "mainWindow"]
        if not found or not found[0].services_ready:
            return
        runtime = get_runtime()
        if runtime is None or not runtime.engine.auto_sync_enabled:
            return
        timer.stop()
        # A moment for what follows the start, then read the item as a user would see it.
        QTimer.singleShot(200, lambda: report(found[0]))

    def report(window):
        print("auto sync item:", window.actions_.auto_sync.isChecked(), flush=True)
        window.actions_.quit.trigger()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    sys.exit(gui_app.main([]))
    """
)


def test_the_auto_sync_item_is_checked_when_auto_sync_runs(tmp_path: Path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PEFT_STUDIO_OFFLINE_CHECK_URLS"] = ""
    env["PEFT_STUDIO_OFFLINE_API_PORT"] = "0"
    env["PEFT_STUDIO_OFFLINE_AUTO_SYNC"] = "1"
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "auto sync item: True" in done.stdout.splitlines(), done.stdout
