"""Icons drawn in code: status dots, the tray's state icons and the application icon.

Drawing them keeps the package free of image files that would need packaging and lets the
colours match ``formatting``'s palette exactly; the application's SVG icon in ``resources/``
is used for the window when it is installed next to the package.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from peft_studio_offline.gui import formatting


def _dot(colour: QColor, size: int, ring: bool = False) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    margin = size * 0.22
    rect = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    if ring:
        painter.setPen(QPen(colour, size * 0.12))
        painter.setBrush(Qt.BrushStyle.NoBrush)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
    painter.drawEllipse(rect)
    painter.end()
    return pixmap


@cache
def status_icon(status: str) -> QIcon:
    """A coloured dot for an operation status (cached: the table asks for it on every paint)."""
    icon = QIcon()
    for size in (12, 16, 24):
        icon.addPixmap(_dot(formatting.status_colour(status), size))
    return icon


@cache
def dot_icon(colour: str) -> QIcon:
    icon = QIcon()
    for size in (12, 16, 24, 32):
        icon.addPixmap(_dot(QColor(colour), size))
    return icon


def dot_pixmap(colour: str, size: int, ratio: float = 1.0) -> QPixmap:
    """A dot ``size`` logical pixels wide, drawn with ``ratio`` device pixels to each (the
    widget's ``devicePixelRatioF()``), so that it is sharp on a scaled screen."""
    ratio = max(1.0, ratio)
    pixmap = _dot(QColor(colour), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def _draw_app_icon(size: int, badge: str | None) -> QPixmap:
    """A rounded square with two stacked cards (the queue) and an upward arrow (sync)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64.0
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#4f46e5"))
    p.drawRoundedRect(QRectF(2 * s, 2 * s, 60 * s, 60 * s), 14 * s, 14 * s)
    p.setBrush(QColor(255, 255, 255, 110))
    p.drawRoundedRect(QRectF(14 * s, 34 * s, 36 * s, 9 * s), 3 * s, 3 * s)
    p.setBrush(QColor(255, 255, 255, 200))
    p.drawRoundedRect(QRectF(14 * s, 46 * s, 36 * s, 9 * s), 3 * s, 3 * s)
    arrow = QPainterPath()
    arrow.moveTo(QPointF(32 * s, 8 * s))
    arrow.lineTo(QPointF(44 * s, 20 * s))
    arrow.lineTo(QPointF(36 * s, 20 * s))
    arrow.lineTo(QPointF(36 * s, 29 * s))
    arrow.lineTo(QPointF(28 * s, 29 * s))
    arrow.lineTo(QPointF(28 * s, 20 * s))
    arrow.lineTo(QPointF(20 * s, 20 * s))
    arrow.closeSubpath()
    p.setBrush(QColor("white"))
    p.drawPath(arrow)
    if badge:
        p.setBrush(QColor(badge))
        p.setPen(QPen(QColor("white"), 3 * s))
        p.drawEllipse(QRectF(40 * s, 40 * s, 22 * s, 22 * s))
    p.end()
    return pixmap


@cache
def app_icon(badge: str | None = None) -> QIcon:
    """The application icon; with ``badge`` (a colour) a status dot in its corner (tray)."""
    if badge is None:
        svg = _installed_svg()
        if svg is not None:
            return QIcon(str(svg))
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64, 128, 256):
        icon.addPixmap(_draw_app_icon(size, badge))
    return icon


def _installed_svg() -> Path | None:
    here = Path(__file__).resolve()
    for candidate in (
        here.parent / "resources" / "io.github.peftstudio.Offline.svg",
        here.parents[2] / "resources/icons/hicolor/scalable/apps/io.github.peftstudio.Offline.svg",
    ):
        if candidate.is_file():
            return candidate
    return None


# ------------------------------------------------------------ toolbar line icons


def _stroke_icon(draw: Callable[[QPainter, float], None], colour: QColor) -> QIcon:
    icon = QIcon()
    for size in (16, 20, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 24.0
        pen = QPen(colour, 2.0 * s)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        draw(painter, s)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def _sync(p: QPainter, s: float) -> None:
    rect = QRectF(5 * s, 5 * s, 14 * s, 14 * s)
    p.drawArc(rect, 30 * 16, 150 * 16)
    p.drawArc(rect, 210 * 16, 150 * 16)
    p.drawPolyline([QPointF(16 * s, 4 * s), QPointF(18.6 * s, 8.5 * s), QPointF(14 * s, 9.5 * s)])
    p.drawPolyline([QPointF(8 * s, 20 * s), QPointF(5.4 * s, 15.5 * s), QPointF(10 * s, 14.5 * s)])


def _retry(p: QPainter, s: float) -> None:
    p.drawArc(QRectF(5 * s, 5 * s, 14 * s, 14 * s), 60 * 16, 300 * 16)
    p.drawPolyline([QPointF(15 * s, 3.5 * s), QPointF(16 * s, 6.5 * s), QPointF(13 * s, 8 * s)])


def _signal(p: QPainter, s: float) -> None:
    p.drawArc(QRectF(3 * s, 6 * s, 18 * s, 18 * s), 45 * 16, 90 * 16)
    p.drawArc(QRectF(7 * s, 10 * s, 10 * s, 10 * s), 45 * 16, 90 * 16)
    p.drawPoint(QPointF(12 * s, 18.5 * s))
    p.drawEllipse(QPointF(12 * s, 18.5 * s), 0.8 * s, 0.8 * s)


def _plus(p: QPainter, s: float) -> None:
    p.drawRoundedRect(QRectF(4 * s, 4 * s, 16 * s, 16 * s), 4 * s, 4 * s)
    p.drawLine(QPointF(12 * s, 8 * s), QPointF(12 * s, 16 * s))
    p.drawLine(QPointF(8 * s, 12 * s), QPointF(16 * s, 12 * s))


def _trash(p: QPainter, s: float) -> None:
    p.drawLine(QPointF(4 * s, 7 * s), QPointF(20 * s, 7 * s))
    p.drawPolyline([QPointF(9 * s, 7 * s), QPointF(9.5 * s, 4 * s), QPointF(14.5 * s, 4 * s),
                    QPointF(15 * s, 7 * s)])  # fmt: skip
    p.drawPolyline([QPointF(6 * s, 7 * s), QPointF(7 * s, 20 * s), QPointF(17 * s, 20 * s),
                    QPointF(18 * s, 7 * s)])  # fmt: skip
    p.drawLine(QPointF(10 * s, 11 * s), QPointF(10 * s, 16 * s))
    p.drawLine(QPointF(14 * s, 11 * s), QPointF(14 * s, 16 * s))


def _conflict(p: QPainter, s: float) -> None:
    p.drawLine(QPointF(12 * s, 21 * s), QPointF(12 * s, 13 * s))
    p.drawLine(QPointF(12 * s, 13 * s), QPointF(6 * s, 6 * s))
    p.drawLine(QPointF(12 * s, 13 * s), QPointF(18 * s, 6 * s))
    p.drawPolyline([QPointF(5 * s, 10 * s), QPointF(5.5 * s, 5.5 * s), QPointF(10 * s, 5 * s)])
    p.drawPolyline([QPointF(19 * s, 10 * s), QPointF(18.5 * s, 5.5 * s), QPointF(14 * s, 5 * s)])


def _pause(p: QPainter, s: float) -> None:
    p.drawLine(QPointF(9 * s, 6 * s), QPointF(9 * s, 18 * s))
    p.drawLine(QPointF(15 * s, 6 * s), QPointF(15 * s, 18 * s))


def _inspect(p: QPainter, s: float) -> None:
    p.drawEllipse(QRectF(4 * s, 4 * s, 11 * s, 11 * s))
    p.drawLine(QPointF(13.5 * s, 13.5 * s), QPointF(20 * s, 20 * s))


def _cancel(p: QPainter, s: float) -> None:
    p.drawEllipse(QRectF(4 * s, 4 * s, 16 * s, 16 * s))
    p.drawLine(QPointF(6.5 * s, 17.5 * s), QPointF(17.5 * s, 6.5 * s))


def _export(p: QPainter, s: float) -> None:
    p.drawPolyline([QPointF(4 * s, 14 * s), QPointF(4 * s, 20 * s), QPointF(20 * s, 20 * s),
                    QPointF(20 * s, 14 * s)])  # fmt: skip
    p.drawLine(QPointF(12 * s, 4 * s), QPointF(12 * s, 15 * s))
    p.drawPolyline([QPointF(8 * s, 8 * s), QPointF(12 * s, 4 * s), QPointF(16 * s, 8 * s)])


def _settings(p: QPainter, s: float) -> None:
    # Three sliders.
    for y, knob in ((6, 15), (12, 8), (18, 13)):
        p.drawLine(QPointF(4 * s, y * s), QPointF(20 * s, y * s))
        p.drawEllipse(QPointF(knob * s, y * s), 1.8 * s, 1.8 * s)


def _folder(p: QPainter, s: float) -> None:
    path = QPainterPath()
    path.moveTo(QPointF(3 * s, 7 * s))
    path.lineTo(QPointF(9 * s, 7 * s))
    path.lineTo(QPointF(11 * s, 9 * s))
    path.lineTo(QPointF(21 * s, 9 * s))
    path.lineTo(QPointF(21 * s, 19 * s))
    path.lineTo(QPointF(3 * s, 19 * s))
    path.closeSubpath()
    p.drawPath(path)


_DRAWINGS: dict[str, Callable[[QPainter, float], None]] = {
    "inspect": _inspect,
    "cancel": _cancel,
    "export": _export,
    "settings": _settings,
    "folder": _folder,
    "sync": _sync,
    "retry": _retry,
    "check": _signal,
    "add": _plus,
    "delete": _trash,
    "conflicts": _conflict,
    "pause": _pause,
}


def action_icon(name: str, colour: QColor) -> QIcon:
    """A line icon drawn in ``colour`` (the palette's text colour: it follows dark mode)."""
    return _stroke_icon(_DRAWINGS[name], colour)
