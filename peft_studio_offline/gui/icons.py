"""Icons drawn in code: status dots, the tray's state icons and the application icon.

Drawing them keeps the package free of image files that would need packaging and lets the
colours match ``formatting``'s palette exactly; the application's SVG icon in ``resources/``
is used for the window when it is installed next to the package.
"""

from __future__ import annotations

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


def dot_pixmap(colour: str, size: int) -> QPixmap:
    return _dot(QColor(colour), size)


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
        here.parent / "resources" / "peft-studio-offline.svg",
        here.parents[2] / "resources" / "peft-studio-offline.svg",
    ):
        if candidate.is_file():
            return candidate
    return None
