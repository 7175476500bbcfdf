"""How core values read on screen: status words and colours, times, counts."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtGui import QColor, QPalette, Qt
from PySide6.QtWidgets import QLabel

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus, OperationType

STATUS_LABELS: dict[str, str] = {
    OperationStatus.PENDING: "Pending",
    OperationStatus.IN_PROGRESS: "Sending",
    OperationStatus.COMPLETED: "Completed",
    OperationStatus.FAILED: "Failed",
    OperationStatus.CONFLICT: "Conflict",
    OperationStatus.CANCELLED: "Cancelled",
    OperationStatus.EXPIRED: "Expired",
    OperationStatus.EXPORTED: "Exported, awaiting receipt",
}

TYPE_LABELS: dict[str, str] = {
    OperationType.API_CALL: "API call",
    OperationType.FILE_UPLOAD: "File upload",
    OperationType.METRIC_LOG: "Metric log",
    OperationType.MODEL_PUSH: "Model push",
    OperationType.EXPERIMENT_SYNC: "Experiment sync",
}

# Colours chosen to read on both light and dark palettes (mid saturation, mid lightness).
STATUS_COLOURS: dict[str, str] = {
    OperationStatus.PENDING: "#3b82f6",
    OperationStatus.IN_PROGRESS: "#8b5cf6",
    OperationStatus.COMPLETED: "#22a06b",
    OperationStatus.FAILED: "#e5484d",
    OperationStatus.CONFLICT: "#f59e0b",
    OperationStatus.CANCELLED: "#8b8d98",
    OperationStatus.EXPIRED: "#8b8d98",
    OperationStatus.EXPORTED: "#0ea5a4",
}

NETWORK_COLOURS: dict[str, str] = {
    NetworkStatus.ONLINE: "#22a06b",
    NetworkStatus.OFFLINE: "#e5484d",
    NetworkStatus.LIMITED: "#f59e0b",
    NetworkStatus.UNKNOWN: "#8b8d98",
}
# The indicator's badges, (background, text): both pairs meet WCAG AA (4.5:1, the amber one
# with dark text); the status colours above are for dots and lines, not for text.
BADGE_COLOURS: dict[str, tuple[str, str]] = {
    OperationStatus.CONFLICT: ("#f59e0b", "#1c1917"),
    OperationStatus.FAILED: ("#c62828", "#ffffff"),
}
# Error sentences in dialogs, on a light and on a dark window (both over 4.5:1).
ERROR_TEXT_ON_LIGHT = "#b91c1c"
ERROR_TEXT_ON_DARK = "#ff9592"
SYNCING_COLOUR = "#3b82f6"
PAUSED_COLOUR = "#8b8d98"

NETWORK_LABELS: dict[str, str] = {
    NetworkStatus.ONLINE: "Online",
    NetworkStatus.OFFLINE: "Offline",
    NetworkStatus.LIMITED: "Limited (captive portal)",
    NetworkStatus.UNKNOWN: "Checking…",
}


def status_label(status: object) -> str:
    return STATUS_LABELS.get(str(status), str(status).replace("_", " ").capitalize())


def type_label(kind: object) -> str:
    return TYPE_LABELS.get(str(kind), str(kind))


def status_colour(status: object) -> QColor:
    return QColor(STATUS_COLOURS.get(str(status), "#8b8d98"))


def network_label(status: object) -> str:
    return NETWORK_LABELS.get(str(status), str(status).capitalize())


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """Today's times as HH:MM, older ones with their date; in the user's time zone."""
    if moment is None:
        return ""
    local = moment.astimezone()
    now = datetime.now(UTC).astimezone()
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if local.date() == now.date():
        return local.strftime(clock)
    return local.strftime(f"%Y-%m-%d {clock}")


def full_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 3 min', '12 s ago', 'now'."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = (moment - now).total_seconds()
    future = seconds > 0
    span = abs(seconds)
    if span < 1.5:
        return "now"
    if span < 60:
        text = f"{span:.0f} s"
    elif span < 3600:
        text = f"{span / 60:.0f} min"
    elif span < 86400:
        text = f"{span / 3600:.1f} h"
    else:
        text = f"{span / 86400:.0f} d"
    return f"in {text}" if future else f"{text} ago"


def parse_time(value: object) -> datetime | None:
    """Accept a datetime, an ISO 8601 string or a Unix time; None for anything else."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def plain_tooltip(text: str | None) -> str:
    """A tooltip that shows ``text`` as it is: Qt renders a tooltip that looks like HTML as
    HTML, and error messages come from servers (an error page would become a heading)."""
    return Qt.convertFromPlainText(text) if text else ""


def plain_label(label: QLabel) -> QLabel:
    """``label`` shows its text as it is, whatever it looks like (text from a server, a
    file or the user; QLabel would otherwise guess that text with tags is rich text)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def is_dark(palette: QPalette) -> bool:
    """A dark window: its background is darker than its text."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return window.lightnessF() < text.lightnessF()


def error_colour(palette: QPalette) -> QColor:
    """The colour of an error sentence on ``palette``'s window (AA contrast on both)."""
    return QColor(ERROR_TEXT_ON_DARK if is_dark(palette) else ERROR_TEXT_ON_LIGHT)


def error_label(label: QLabel) -> QLabel:
    """``label`` shows an error: plain text in the error colour of its palette."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet(f"color: {error_colour(label.palette()).name()};")
    return label


def relative_luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an opaque colour."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio, from 1 (same) to 21 (black on white)."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def count(value: int) -> str:
    """Thousands separated with a thin space: 1 000 000."""
    return f"{value:,}".replace(",", "\u2009")
