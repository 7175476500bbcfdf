"""Dark palette, right-to-left layout and 2x scale: icons, the chart, JSON, counts and URLs,
the details panel and the indicator's dot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette, QTextCursor, QTextLayout, QTextOption
from PySide6.QtWidgets import QApplication

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.gui import MainWindow, formatting
from peft_studio_offline.gui.chart import ActivityChart
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from peft_studio_offline.gui.history import CountSample, StatsHistory
from peft_studio_offline.gui.queue_model import COLUMN_INDEX
from tests.gui.conftest import Core, until
from tests.gui.test_accessibility import dark_palette

ROOT = Path(__file__).resolve().parents[2]


def _ink(image: QImage) -> QColor:
    """The average colour of an icon's opaque pixels."""
    total = [0.0, 0.0, 0.0]
    weight = 0.0
    for y in range(image.height()):
        for x in range(image.width()):
            colour = image.pixelColor(x, y)
            alpha = colour.alphaF()
            if alpha > 0.5:
                total = [
                    total[0] + colour.redF(),
                    total[1] + colour.greenF(),
                    total[2] + colour.blueF(),
                ]
                weight += 1
    assert weight, "an empty icon"
    return QColor.fromRgbF(total[0] / weight, total[1] / weight, total[2] / weight)


async def test_every_icon_follows_a_dark_palette(window: MainWindow) -> None:
    dark = dark_palette()
    window.setPalette(dark)
    background = dark.color(QPalette.ColorRole.Window)
    actions = [*window.actions(), window.actions_.delete]
    with_icons = [a for a in actions if not a.icon().isNull()]
    assert len(with_icons) >= 10
    for action in with_icons:
        image = action.icon().pixmap(24, 24).toImage()
        ratio = formatting.contrast_ratio(_ink(image), background)
        assert ratio >= 3.0, (action.objectName(), round(ratio, 2))


def _history(pending: int, failed: int) -> StatsHistory:
    history = StatsHistory()
    now = time.time()
    history.counts.clear()
    steps = int(history.span_seconds // 600)
    for step in range(steps):  # the whole span
        history.counts.append(CountSample(now - (steps - step) * 600, pending, failed))
    return history


def _close_to(image: QImage, colour: QColor) -> int:
    count = 0
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            if (
                abs(pixel.red() - colour.red())
                + abs(pixel.green() - colour.green())
                + abs(pixel.blue() - colour.blue())
                < 40
            ):
                count += 1
    return count


def test_equal_pending_and_failed_lines_both_show(qapp: QApplication) -> None:
    chart = ActivityChart(_history(7, 7))
    chart.resize(400, 160)
    image = chart.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pending = _close_to(image, QColor(formatting.STATUS_COLOURS[OperationStatus.PENDING]))
    failed = _close_to(image, QColor(formatting.STATUS_COLOURS[OperationStatus.FAILED]))
    # The legend's swatches are 80 pixels each: each line shows for far more than that.
    assert pending > 200 and failed > 200, (pending, failed)


def test_the_chart_axis_reads_on_light_and_dark(qapp: QApplication) -> None:
    chart = ActivityChart(_history(3, 1))
    chart.resize(400, 160)
    for palette in (QApplication.palette(), dark_palette()):
        chart.setPalette(palette)
        background = palette.color(QPalette.ColorRole.Window)
        image = chart.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        # The count axis: a column down the chart's left side at 3:1 or more against the
        # background (WCAG's contrast for graphics); labels alone make no such column.
        columns = [
            sum(
                1
                for y in range(image.height())
                if formatting.contrast_ratio(image.pixelColor(x, y), background) >= 3.0
            )
            for x in range(image.width() // 4)
        ]
        assert max(columns) >= 60, max(columns)


def test_the_chart_is_the_same_picture_when_mirrored(qapp: QApplication) -> None:
    chart = ActivityChart(_history(5, 2))
    chart.resize(400, 160)
    left_to_right = chart.grab().toImage()
    QApplication.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    try:
        # Its labels stay under the data they name ("now" on the right, where it ends).
        assert chart.isRightToLeft()
        assert chart.grab().toImage() == left_to_right
    finally:
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


def _reads_in_order(text: str, first: str, second: str, direction: Qt.LayoutDirection) -> bool:
    """Whether ``first`` is painted left of ``second`` when ``text`` is laid out in a
    paragraph of ``direction`` (as a view lays out its cells)."""
    layout = QTextLayout(text)
    option = QTextOption()
    option.setTextDirection(direction)
    layout.setTextOption(option)
    layout.beginLayout()
    line = layout.createLine()
    line.setLineWidth(1000)
    layout.endLayout()

    def x(char: str) -> float:
        return layout.glyphRuns(text.index(char), 1)[0].positions()[0].x()

    return x(first) < x(second)


async def test_counts_and_urls_read_left_to_right_in_a_mirrored_layout(
    core: Core, window: MainWindow
) -> None:
    rtl = Qt.LayoutDirection.RightToLeft
    assert not _reads_in_order("1 / 5", "1", "5", rtl)  # what a mirrored cell does to it
    op_id = await core.queue.enqueue("api_call", {"url": "http://10.0.0.7:8080/api"})
    await core.queue.claim(limit=1)
    await core.queue.mark_failed(op_id, "HTTP 503", retry_after=600)
    QApplication.setLayoutDirection(rtl)
    try:
        await until(lambda: window.model.rowCount() == 1 and window.view.isRightToLeft())
        attempts = str(window.model.data(window.model.index(0, COLUMN_INDEX["retry_count"])))
        assert attempts.strip("\u2066\u2069") == "1 / 5"
        assert _reads_in_order(attempts, "1", "5", rtl)
        host = str(window.model.data(window.model.index(0, COLUMN_INDEX["host"])))
        assert _reads_in_order(host, "1", "8", rtl)  # 10.0.0.7:8080, not 8080:10.0.0.7
        window.bridge.network_info = lambda: {  # type: ignore[method-assign]
            "endpoints": [{"url": "http://10.0.0.7:8080/health", "ok": True}]
        }
        details = window.open_details()
        item = details.endpoints.topLevelItem(0)
        assert item is not None
        assert _reads_in_order(item.text(0), "h", "8", rtl)  # http://… first, the port after
        details.close()
    finally:
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


async def test_json_keeps_its_indentation_with_an_arabic_key(
    core: Core, window: MainWindow
) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/x", "data": {"مفتاح": 1, "b": 2}})
    await until(lambda: window.model.rowCount() == 1)
    QApplication.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    try:
        dialog = window.open_inspect(0)
        assert isinstance(dialog, InspectDialog)
        await dialog.loaded
        await until(lambda: "مفتاح" in dialog.payload.toPlainText())
        dialog.resize(640, 560)
        document = dialog.payload.document()
        block = document.begin()
        lines = []
        while block.isValid():
            lines.append(block)
            block = block.next()
        arabic = next(b for b in lines if "مفتاح" in b.text())
        latin = next(b for b in lines if '"b"' in b.text())
        assert arabic.text().startswith("    ")  # indented under "data"
        for block in (arabic, latin):
            cursor = QTextCursor(block)
            x = dialog.payload.cursorRect(cursor).x()
            # The line starts at the left edge, indentation first, like every other.
            assert x < 30, (block.text(), x)
        dialog.close()
    finally:
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


async def test_the_details_stay_next_to_the_indicator_when_mirrored(window: MainWindow) -> None:
    QApplication.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    try:
        window.resize(700, 500)
        window.move(200, 100)
        await until(window.isRightToLeft)
        details = window.open_details()
        indicator = window.indicator
        anchor = QRect(indicator.mapToGlobal(QPoint(0, 0)), indicator.size())
        panel = details.frameGeometry()
        # Lined up on the indicator's outer (left) edge, overlapping it horizontally.
        assert abs(panel.left() - anchor.left()) <= 2, (panel, anchor)
        details.close()
    finally:
        QApplication.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


_AT_2X = """
import json, sys
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit
app = QApplication(sys.argv)
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.gui.dialogs.settings_dialog import SettingsDialog
from peft_studio_offline.gui.indicator import OfflineIndicator
indicator = OfflineIndicator()
indicator.show()
app.processEvents()
dot = indicator._dot.pixmap()
dialog = SettingsDialog(AppPaths.from_environment())
dialog.show()
app.processEvents()
fields = [w for w in dialog.findChildren(QLineEdit) + dialog.findChildren(QPlainTextEdit)
          + dialog.findChildren(QAbstractSpinBox)
          if w.isVisibleTo(dialog) and not isinstance(w.parent(), QAbstractSpinBox)]
print(json.dumps({
    "ratio": indicator.devicePixelRatioF(),
    "dot_ratio": dot.devicePixelRatio(),
    "dot_width": dot.width(),
    "squashed": [w.objectName() for w in fields if w.height() < w.minimumSizeHint().height()],
    "fields": len(fields),
}))
"""


def test_at_2x_the_dot_is_sharp_and_settings_are_not_squashed(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_SCALE_FACTOR": "2",
        "QT_QPA_PLATFORM": "offscreen",
        "PEFT_STUDIO_OFFLINE_HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", _AT_2X],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["ratio"] == 2.0
    assert facts["dot_ratio"] == 2.0 and facts["dot_width"] == 28  # 14 logical pixels
    assert facts["fields"] >= 10 and facts["squashed"] == []
