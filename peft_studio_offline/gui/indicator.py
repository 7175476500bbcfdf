"""The status-bar indicator: a coloured dot, a word, the pending count and problem badges.

What it says is worked out by ``indicator_state`` from the bridge's facts, so the tray icon
and tests can use the same words; the widget only draws them. Clicking it (or Space/Enter
when it has focus) emits ``clicked``; the window opens the details panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QAbstractButton, QHBoxLayout, QLabel, QWidget

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.icons import dot_pixmap

NOT_CHECKING = QT_TRANSLATE_NOOP("Indicator", "Not checking — no endpoints or sync targets set")


@dataclass(frozen=True, slots=True)
class IndicatorState:
    word: str  # Online / Offline / Limited (captive portal) / Syncing 12 of 40 / Paused /
    # Not checking (nothing to probe)
    colour: str
    pending: int
    conflicts: int
    failed: int

    @property
    def summary(self) -> str:
        """One line for tooltips, the tray and screen readers."""
        pending, conflicts, failed = self.pending, self.conflicts, self.failed
        parts = [self.word, translate("Indicator", "%Ln pending", None, pending)]
        if conflicts:
            parts.append(translate("Indicator", "%Ln in conflict", None, conflicts))
        if failed:
            parts.append(translate("Indicator", "%Ln failed", None, failed))
        return " · ".join(parts)


def indicator_state(
    network: str,
    stats: dict[str, int],
    *,
    syncing: bool = False,
    done: int = 0,
    total: int = 0,
    paused: bool = False,
    probing: bool = True,
    held: int = 0,
) -> IndicatorState:
    """What the indicator says; ``probing`` is False when no endpoint or sync target is set,
    so that the status can never become known (it must not claim to be checking)."""
    pending = stats.get(OperationStatus.PENDING, 0) + stats.get(OperationStatus.IN_PROGRESS, 0)
    conflicts = stats.get(OperationStatus.CONFLICT, 0)
    failed = stats.get(OperationStatus.FAILED, 0)
    if syncing:
        word = (
            translate("Indicator", "Syncing {done} of {total}").format(
                done=formatting.count(done), total=formatting.count(total)
            )
            if total
            else translate("Indicator", "Syncing…")
        )
        if held:
            word += " " + translate("Indicator", "(%Ln held back)", None, held)
        colour = formatting.SYNCING_COLOUR
    elif paused and network == NetworkStatus.ONLINE:
        word, colour = translate("Indicator", "Paused"), formatting.PAUSED_COLOUR
    elif not probing and network == NetworkStatus.UNKNOWN:
        word, colour = translate("Indicator", NOT_CHECKING), formatting.PAUSED_COLOUR
    else:
        word = formatting.network_label(network)
        colour = formatting.NETWORK_COLOURS.get(network, formatting.PAUSED_COLOUR)
    return IndicatorState(word, colour, pending, conflicts, failed)


class _Badge(QLabel):
    """A rounded count in a status colour that says what it counts ("2 failed"); hidden at
    zero. Its colours meet WCAG AA (``formatting.BADGE_COLOURS``): the colour is a second
    cue, never the only one."""

    def __init__(
        self, status: str, words: Callable[[int], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._words = words
        self._hint = ""
        background, foreground = formatting.BADGE_COLOURS[status]
        self.setStyleSheet(
            f"QLabel {{ background: {background}; color: {foreground}; border-radius: 8px;"
            " padding: 0px 6px; font-weight: 600; }"
        )
        self.setMinimumHeight(16)
        self.hide()

    def set_hint(self, hint: str) -> None:
        self._hint = hint

    def set_count(self, value: int) -> None:
        self.setVisible(value > 0)
        words = self._words(value)
        self.setText(words)
        self.setAccessibleName(words)
        hint = (
            " " + translate("Indicator", "({hint})").format(hint=self._hint) if self._hint else ""
        )
        self.setToolTip(words + hint)


ACCESSIBLE_NAME = QT_TRANSLATE_NOOP("Indicator", "Connection and queue status")
PRESS_HINT = QT_TRANSLATE_NOOP("Indicator", "Press to show connection details and sync controls")


class OfflineIndicator(QAbstractButton):
    """Clickable summary of connectivity and the queue, for the status bar.

    A button to the keyboard and to assistive technology: it takes focus (with a visible
    ring), Space and Enter press it, a screen reader finds a button named with the status in
    words and can press it. ``clicked`` opens the details panel.
    """

    failed_badge_clicked = Signal()  # the red count: the window lists the failed operations

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineIndicator")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(translate("Indicator", ACCESSIBLE_NAME))
        self.setAccessibleDescription(translate("Indicator", PRESS_HINT))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.setSpacing(6)
        self._dot = QLabel(self)
        self._word = QLabel(self)
        self._word.setObjectName("offlineIndicatorWord")
        self._pending = QLabel(self)
        self._pending.setObjectName("offlineIndicatorPending")
        self._conflicts = _Badge(
            OperationStatus.CONFLICT,
            lambda n: translate("Indicator", "%Ln in conflict", None, n),
        )
        self._conflicts.setObjectName("offlineIndicatorConflicts")
        self._failed = _Badge(
            OperationStatus.FAILED, lambda n: translate("Indicator", "%Ln failed", None, n)
        )
        self._failed.setObjectName("offlineIndicatorFailed")
        self._failed.set_hint(translate("Indicator", "click to list them"))
        for widget in (self._dot, self._word, self._pending, self._conflicts, self._failed):
            layout.addWidget(widget)
        self._dot_ratio = 0.0
        self.state: IndicatorState | None = None
        self.show_state(indicator_state(NetworkStatus.UNKNOWN, {}))

    def show_state(self, state: IndicatorState) -> None:
        ratio = self.devicePixelRatioF()
        if state == self.state and ratio == self._dot_ratio:
            return
        if self.state is None or state.colour != self.state.colour or ratio != self._dot_ratio:
            # Drawn for the screen's pixel ratio: sharp at 2x as at 1x.
            self._dot.setPixmap(dot_pixmap(state.colour, 14, ratio))
            self._dot_ratio = ratio
        self.state = state
        self._word.setText(state.word)
        pending = state.pending
        self._pending.setText(translate("Indicator", "%Ln pending", None, pending))
        self._conflicts.set_count(state.conflicts)
        self._failed.set_count(state.failed)
        summary = state.summary
        self.setToolTip(summary + "\n" + translate("Indicator", "Click for details"))
        self.setAccessibleName(
            translate("Indicator", "{name}: {summary}").format(
                name=translate("Indicator", ACCESSIBLE_NAME), summary=summary
            )
        )

    @property
    def text(self) -> str:  # type: ignore[override]  # the word shown, as tests and the tray read it
        return self._word.text()

    def sizeHint(self) -> QSize:  # noqa: N802
        layout = self.layout()
        return layout.sizeHint() if layout is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        # Moved to a screen of another pixel ratio: draw the dot again for it.
        if event.type() == QEvent.Type.DevicePixelRatioChange and self.state is not None:
            state, self.state = self.state, None
            self.show_state(state)
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        if self.isDown():
            shade = QColor(palette.color(QPalette.ColorRole.WindowText))
            shade.setAlpha(30)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(shade)
            painter.drawRoundedRect(rect, 4, 4)
        if self.hasFocus():
            # A ring in the highlight colour, as wide as the style's own focus frames.
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 2)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect, 4, 4)
        painter.end()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position().toPoint()
        on_badge = self._failed.isVisible() and self._failed.geometry().contains(point)
        if event.button() == Qt.MouseButton.LeftButton and self.isDown() and on_badge:
            self.setDown(False)
            self.failed_badge_clicked.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        # Space is the button's own (pressed on release); Enter presses it too.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.click()
            event.accept()
            return
        super().keyPressEvent(event)
