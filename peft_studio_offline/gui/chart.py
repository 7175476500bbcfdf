"""A small chart drawn with QPainter: pending and failed counts as lines, throughput as bars.

QtCharts is not part of PySide6-Essentials, and a sparkline needs none of it. Colours come
from the status palette; axes and text from the widget's palette, so it follows dark mode.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QLocale, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.history import StatsHistory
from peft_studio_offline.gui.i18n import once, translate


class ActivityChart(QWidget):
    """The last hours at a glance; call ``update()`` after the history changes."""

    BARS = 36

    def __init__(self, history: StatsHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.setMinimumSize(QSize(280, 140))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(translate("Chart", "Activity chart"))
        self.setAccessibleDescription(
            translate(
                "Chart", "Pending and failed operations, and operations synced, over the last hours"
            )
        )

    def scale(self) -> int:
        """The count at the top of the chart: the highest pending or failed count, rounded
        up to 1, 2 or 5 times a power of ten (so that the gridlines mean round numbers)."""
        peak = max((max(s.pending, s.failed) for s in self.history.counts), default=0)
        return nice_ceiling(peak)

    def axis_labels(self) -> tuple[list[str], list[str]]:
        """The labels of the count axis (bottom to top) and of the time axis (left to right)."""
        top = self.scale()
        hours = self.history.span_seconds / 3600
        return (
            ["0", formatting.count(top // 2) if top % 2 == 0 else "", formatting.count(top)],
            [
                once.translate("Chart", "{hours} h ago").format(hours=_number(hours)),
                once.translate("Chart", "{hours} h ago").format(hours=_number(hours / 2)),
                once.translate("Chart", "now"),
            ],
        )

    def axis_colour(self) -> QColor:
        """The axis line: the text colour mixed into the background, kept at 3:1 or more
        against it (WCAG's contrast for graphics) in light and dark palettes."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        back = palette.color(QPalette.ColorRole.Window)
        for share in (0.55, 0.7, 0.85, 1.0):
            mixed = QColor.fromRgbF(
                back.redF() + (text.redF() - back.redF()) * share,
                back.greenF() + (text.greenF() - back.greenF()) * share,
                back.blueF() + (text.blueF() - back.blueF()) * share,
            )
            if formatting.contrast_ratio(mixed, back) >= 3.0:
                return mixed
        return text

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        # Time runs left to right in every layout: the labels ("6 h ago" … "now") must
        # stay with the data they name, not be mirrored away from it.
        painter.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlpha(40)  # gridlines: a hint, under the axis
        small = painter.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        metrics = painter.fontMetrics()
        y_labels, x_labels = self.axis_labels()
        left = max(metrics.horizontalAdvance(label) for label in y_labels) + 10
        legend_height = 16
        axis_height = metrics.height() + 2
        area = QRectF(self.rect()).adjusted(
            left, metrics.height() / 2 + 2, -4, -(legend_height + axis_height + 4)
        )
        self._draw_axes(painter, area, y_labels, x_labels, text, faint)
        self._draw_bars(painter, area)
        self._draw_lines(painter, area)
        self._draw_legend(
            painter,
            QRectF(2, area.bottom() + axis_height + 4, self.width() - 4, legend_height),
            text,
        )
        painter.end()

    def _draw_axes(
        self,
        painter: QPainter,
        area: QRectF,
        y_labels: list[str],
        x_labels: list[str],
        text: QColor,
        faint: QColor,
    ) -> None:
        metrics = painter.fontMetrics()
        for i, label in enumerate(y_labels):  # gridlines at 0, half and the top
            y = area.bottom() - area.height() * 0.9 * i / (len(y_labels) - 1)
            painter.setPen(QPen(faint, 1))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            if label:
                painter.setPen(text)
                painter.drawText(
                    QRectF(0, y - metrics.height() / 2, area.left() - 4, metrics.height()),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    label,
                )
        # Crisp, not smoothed into two half-tone columns: the axes must read at a glance.
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(self.axis_colour(), 1))
        painter.drawLine(area.topLeft(), area.bottomLeft())
        painter.drawLine(area.bottomLeft(), area.bottomRight())
        painter.restore()
        painter.setPen(text)
        row = QRectF(area.left(), area.bottom() + 2, area.width(), metrics.height())
        aligns = (
            Qt.AlignmentFlag.AlignLeft,
            Qt.AlignmentFlag.AlignHCenter,
            Qt.AlignmentFlag.AlignRight,
        )
        for label, align in zip(x_labels, aligns, strict=True):
            painter.drawText(row, int(align | Qt.AlignmentFlag.AlignTop), label)

    def _draw_bars(self, painter: QPainter, area: QRectF) -> None:
        buckets = self.history.throughput_buckets(self.BARS)
        peak = max(buckets) or 1
        width = area.width() / self.BARS
        colour = QColor(formatting.STATUS_COLOURS[OperationStatus.COMPLETED])
        colour.setAlpha(110)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for i, value in enumerate(buckets):
            if value:
                height = max(2.0, area.height() * 0.9 * value / peak)
                painter.drawRoundedRect(
                    QRectF(area.left() + i * width + 1, area.bottom() - height, width - 2, height),
                    1.5,
                    1.5,
                )

    def _draw_lines(self, painter: QPainter, area: QRectF) -> None:
        samples = list(self.history.counts)
        if not samples:
            return
        now = time.time()
        span = self.history.span_seconds
        peak = self.scale()

        def point(at: float, value: int) -> QPointF:
            x = area.left() + area.width() * max(0.0, 1 - (now - at) / span)
            y = area.bottom() - area.height() * 0.9 * value / peak
            return QPointF(x, y)

        # Pending wide and solid, failed narrower and dashed on top: where the counts are
        # equal both stay visible (and the two differ by more than their colour).
        for key, status, width, style in (
            ("pending", OperationStatus.PENDING, 3.5, Qt.PenStyle.SolidLine),
            ("failed", OperationStatus.FAILED, 2.0, Qt.PenStyle.DashLine),
        ):
            path = QPainterPath()
            for i, sample in enumerate(samples):
                p = point(sample.at, getattr(sample, key))
                if i == 0:
                    path.moveTo(p)
                else:
                    # Counts hold until the next sample: draw steps, not slopes.
                    path.lineTo(QPointF(p.x(), path.currentPosition().y()))
                    path.lineTo(p)
            path.lineTo(QPointF(area.right(), path.currentPosition().y()))
            pen = QPen(QColor(formatting.STATUS_COLOURS[status]), width)
            pen.setStyle(style)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)

    def _draw_legend(self, painter: QPainter, rect: QRectF, text: QColor) -> None:
        x = rect.left()
        buckets = self.history.throughput_buckets(self.BARS)
        minutes = self.history.span_seconds / self.BARS / 60
        synced = once.translate("Chart", "synced (bars, highest {count} per {minutes} min)").format(
            count=formatting.count(max(buckets)), minutes=_number(minutes)
        )
        entries = (
            (
                formatting.STATUS_COLOURS[OperationStatus.PENDING],
                once.translate("Chart", "pending"),
            ),
            (formatting.STATUS_COLOURS[OperationStatus.FAILED], once.translate("Chart", "failed")),
            (formatting.STATUS_COLOURS[OperationStatus.COMPLETED], synced),
        )
        metrics = painter.fontMetrics()
        for colour, label in entries:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(QRectF(x, rect.center().y() - 4, 10, 8), 2, 2)
            painter.setPen(text)
            painter.drawText(QPointF(x + 14, rect.center().y() + metrics.ascent() / 2 - 1), label)
            x += 14 + metrics.horizontalAdvance(label) + 12


def _number(value: float) -> str:
    """A number of hours or minutes in the locale's digits, without trailing zeros."""
    return QLocale().toString(float(value), "g", 6)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... that is at least ``value`` (1 for nothing)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10
