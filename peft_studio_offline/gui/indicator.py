"""The status-bar indicator: a coloured dot, a word, the pending count and problem badges.

What it says is worked out by ``indicator_state`` from the bridge's facts, so the tray icon
and tests can use the same words; the widget only draws them. Clicking it (or Space/Enter
when it has focus) emits ``clicked``; the window opens the details panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.icons import dot_pixmap

NOT_CHECKING = "Not checking — no endpoints or sync targets set"


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
        parts = [self.word, f"{formatting.count(self.pending)} pending"]
        if self.conflicts:
            parts.append(f"{formatting.count(self.conflicts)} in conflict")
        if self.failed:
            parts.append(f"{formatting.count(self.failed)} failed")
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
            f"Syncing {formatting.count(done)} of {formatting.count(total)}"
            if total
            else "Syncing…"
        )
        if held:
            word += f" ({formatting.count(held)} held back)"
        colour = formatting.SYNCING_COLOUR
    elif paused and network == NetworkStatus.ONLINE:
        word, colour = "Paused", formatting.PAUSED_COLOUR
    elif not probing and network == NetworkStatus.UNKNOWN:
        word, colour = NOT_CHECKING, formatting.PAUSED_COLOUR
    else:
        word = formatting.network_label(network)
        colour = formatting.NETWORK_COLOURS.get(network, formatting.PAUSED_COLOUR)
    return IndicatorState(word, colour, pending, conflicts, failed)


class _Badge(QLabel):
    """A rounded count in a status colour; hidden at zero."""

    def __init__(self, colour: str, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._what = what
        self._hint = ""
        self.setStyleSheet(
            f"QLabel {{ background: {colour}; color: white; border-radius: 8px;"
            " padding: 0px 6px; font-weight: 600; }"
        )
        self.setMinimumHeight(16)
        self.hide()

    def set_hint(self, hint: str) -> None:
        self._hint = hint

    def set_count(self, value: int) -> None:
        self.setVisible(value > 0)
        self.setText(formatting.count(value))
        hint = f" ({self._hint})" if self._hint else ""
        self.setToolTip(f"{formatting.count(value)} {self._what}{hint}")


class OfflineIndicator(QFrame):
    """Clickable summary of connectivity and the queue, for the status bar."""

    clicked = Signal()
    failed_badge_clicked = Signal()  # the red count: the window lists the failed operations

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("offlineIndicator")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Connection and queue status")
        self.setAccessibleDescription("Press to show connection details and sync controls")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 1, 6, 1)
        layout.setSpacing(6)
        self._dot = QLabel(self)
        self._word = QLabel(self)
        self._word.setObjectName("offlineIndicatorWord")
        self._pending = QLabel(self)
        self._pending.setObjectName("offlineIndicatorPending")
        self._conflicts = _Badge(formatting.STATUS_COLOURS[OperationStatus.CONFLICT], "in conflict")
        self._conflicts.setObjectName("offlineIndicatorConflicts")
        self._failed = _Badge(formatting.STATUS_COLOURS[OperationStatus.FAILED], "failed")
        self._failed.setObjectName("offlineIndicatorFailed")
        self._failed.set_hint("click to list them")
        for widget in (self._dot, self._word, self._pending, self._conflicts, self._failed):
            layout.addWidget(widget)
        self.state: IndicatorState | None = None
        self.show_state(indicator_state(NetworkStatus.UNKNOWN, {}))

    def show_state(self, state: IndicatorState) -> None:
        if state == self.state:
            return
        if self.state is None or state.colour != self.state.colour:
            self._dot.setPixmap(dot_pixmap(state.colour, 14))
        self.state = state
        self._word.setText(state.word)
        self._pending.setText(f"{formatting.count(state.pending)} pending")
        self._conflicts.set_count(state.conflicts)
        self._failed.set_count(state.failed)
        self.setToolTip(state.summary + "\nClick for details")
        self.setAccessibleDescription(state.summary)

    @property
    def text(self) -> str:
        return self._word.text()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position().toPoint()
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(point):
            if self._failed.isVisible() and self._failed.geometry().contains(point):
                self.failed_badge_clicked.emit()
            else:
                self.clicked.emit()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.clicked.emit()
            event.accept()
            return
        super().keyPressEvent(event)
