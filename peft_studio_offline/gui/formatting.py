"""How core values read on screen: status words and colours, times, counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from PySide6.QtCore import QDate, QLocale, QTime
from PySide6.QtGui import QColor, QPalette, Qt
from PySide6.QtWidgets import QLabel

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus, OperationType
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, once

STATUS_LABELS: dict[str, str] = {
    OperationStatus.PENDING: QT_TRANSLATE_NOOP("Status", "Pending"),
    OperationStatus.IN_PROGRESS: QT_TRANSLATE_NOOP("Status", "Sending"),
    OperationStatus.COMPLETED: QT_TRANSLATE_NOOP("Status", "Completed"),
    OperationStatus.FAILED: QT_TRANSLATE_NOOP("Status", "Failed"),
    OperationStatus.CONFLICT: QT_TRANSLATE_NOOP("Status", "Conflict"),
    OperationStatus.CANCELLED: QT_TRANSLATE_NOOP("Status", "Cancelled"),
    OperationStatus.EXPIRED: QT_TRANSLATE_NOOP("Status", "Expired"),
    OperationStatus.EXPORTED: QT_TRANSLATE_NOOP("Status", "Exported, awaiting receipt"),
}

TYPE_LABELS: dict[str, str] = {
    OperationType.API_CALL: QT_TRANSLATE_NOOP("OperationType", "API call"),
    OperationType.FILE_UPLOAD: QT_TRANSLATE_NOOP("OperationType", "File upload"),
    OperationType.METRIC_LOG: QT_TRANSLATE_NOOP("OperationType", "Metric log"),
    OperationType.MODEL_PUSH: QT_TRANSLATE_NOOP("OperationType", "Model push"),
    OperationType.EXPERIMENT_SYNC: QT_TRANSLATE_NOOP("OperationType", "Experiment sync"),
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
    NetworkStatus.ONLINE: QT_TRANSLATE_NOOP("Network", "Online"),
    NetworkStatus.OFFLINE: QT_TRANSLATE_NOOP("Network", "Offline"),
    NetworkStatus.LIMITED: QT_TRANSLATE_NOOP("Network", "Limited (captive portal)"),
    NetworkStatus.UNKNOWN: QT_TRANSLATE_NOOP("Network", "Checking…"),
}


def status_label(status: object) -> str:
    known = STATUS_LABELS.get(str(status))
    if known is None:
        return str(status).replace("_", " ").capitalize()
    return once.translate("Status", known)


def type_label(kind: object) -> str:
    known = TYPE_LABELS.get(str(kind))
    return str(kind) if known is None else once.translate("OperationType", known)


def status_colour(status: object) -> QColor:
    return QColor(STATUS_COLOURS.get(str(status), "#8b8d98"))


def network_label(status: object) -> str:
    known = NETWORK_LABELS.get(str(status))
    return str(status).capitalize() if known is None else once.translate("Network", known)


def _clock_format(seconds: bool) -> str:
    """The locale's time format, with seconds or without, never with a time-zone name."""
    kind = QLocale.FormatType.LongFormat if seconds else QLocale.FormatType.ShortFormat
    return once.value(
        f"clock-{kind.name}",
        lambda: re.sub(r"\s*\bt+\b", "", QLocale().timeFormat(kind)).strip(),
    )


def _date_format() -> str:
    """The locale's short date, with a four-digit year (07.12.2026, 12/7/2026)."""

    def make() -> str:
        short = QLocale().dateFormat(QLocale.FormatType.ShortFormat)
        return short if "yyyy" in short else short.replace("yy", "yyyy")

    return once.value("date", make)


def _qt(moment: datetime) -> tuple[QDate, QTime]:
    return (
        QDate(moment.year, moment.month, moment.day),
        QTime(moment.hour, moment.minute, moment.second),
    )


def local_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """Today's times as the clock alone, older ones with their date; in the user's time zone
    and the locale's format."""
    if moment is None:
        return ""
    local = moment.astimezone()
    now = datetime.now(UTC).astimezone()
    date, time = _qt(local)
    locale = QLocale()
    clock = locale.toString(time, _clock_format(seconds))
    if local.date() == now.date():
        return clock
    return f"{locale.toString(date, _date_format())} {clock}"


def full_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    local = moment.astimezone()
    date, time = _qt(local)
    locale = QLocale()
    zone = local.strftime("%Z")
    text = f"{locale.toString(date, _date_format())} {locale.toString(time, _clock_format(True))}"
    return f"{text} {zone}" if zone else text


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 3 min', '12 s ago', 'now'."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    seconds = (moment - now).total_seconds()
    future = seconds > 0
    span = abs(seconds)
    if span < 1.5:
        return once.translate("Time", "now")
    locale = QLocale()
    if span < 60:
        text = once.translate("Time", "{n} s").format(n=locale.toString(round(span)))
    elif span < 3600:
        text = once.translate("Time", "{n} min").format(n=locale.toString(round(span / 60)))
    elif span < 86400:
        text = once.translate("Time", "{n} h").format(n=locale.toString(span / 3600, "f", 1))
    else:
        text = once.translate("Time", "{n} d").format(n=locale.toString(round(span / 86400)))
    template = (
        once.translate("Time", "in {span}") if future else once.translate("Time", "{span} ago")
    )
    return template.format(span=text)


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
    """A count in the locale's digits and group separator: 1,000,000 or 1.000.000."""
    return QLocale().toString(value)
