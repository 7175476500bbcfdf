"""The system tray icon: mirrors the indicator and tells the user what needs them.

A notification is a tray message where the desktop shows them; elsewhere (no tray, or a tray
without messages) it is shown in the window's status bar, so that it is never lost. Each is
kept in ``sent`` as well, newest last.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QMenu, QSystemTrayIcon

from peft_studio_offline.gui.actions import WindowActions
from peft_studio_offline.gui.i18n import translate
from peft_studio_offline.gui.icons import app_icon
from peft_studio_offline.gui.indicator import IndicatorState

MESSAGE_MS = 8000  # how long a notification stays up


class TrayIcon(QObject):
    def __init__(self, actions: WindowActions, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setObjectName("trayIcon")
        self.icon.setToolTip(translate("Tray", "PEFT Studio Offline"))
        menu = QMenu(window)
        show = menu.addAction(translate("Tray", "Show Window"))
        show.triggered.connect(self.raise_window)
        menu.addSeparator()
        menu.addActions([actions.sync_now, actions.pause, actions.check])
        menu.addSeparator()
        menu.addAction(actions.quit)
        self.menu = menu
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.sent: list[tuple[str, str]] = []
        self._colour: str | None = None

    def show(self) -> None:
        if self.available:
            self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_state(self, state: IndicatorState) -> None:
        self.icon.setToolTip(translate("Tray", "PEFT Studio Offline") + "\n" + state.summary)
        if state.colour != self._colour:
            self._colour = state.colour
            self.icon.setIcon(app_icon(state.colour))

    def notify(self, title: str, text: str, *, warning: bool = False) -> None:
        self.sent.append((title, text))
        if self.available and self.icon.isVisible() and self.icon.supportsMessages():
            kind = (
                QSystemTrayIcon.MessageIcon.Warning
                if warning
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.icon.showMessage(title, text, kind, MESSAGE_MS)
        else:
            self._window.statusBar().showMessage(
                translate("Tray", "{title}: {text}").format(title=title, text=text), MESSAGE_MS
            )

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.raise_window()

    def raise_window(self) -> None:
        window = self._window
        if window.isMinimized():
            window.showNormal()
        window.show()
        window.raise_()
        window.activateWindow()
