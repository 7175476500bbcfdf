"""Every action of the window, with its name, shortcut, icon and accessible text.

Tests and scripts find actions by object name (``actionSyncNow``, ``actionDeleteSelected``,
``actionCheckConnectivity``...), so these names are part of the contract.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPalette
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.icons import action_icon

# The conflict strategies as menu items, each with its own mnemonic (the settings dialog
# lists them by ``strategy_label``, without one).
_STRATEGY_ITEMS: dict[ConflictResolution, str] = {
    ConflictResolution.LOCAL_WINS: QT_TRANSLATE_NOOP("Actions", "Keep &mine (local wins)"),
    ConflictResolution.REMOTE_WINS: QT_TRANSLATE_NOOP("Actions", "Keep &theirs (remote wins)"),
    ConflictResolution.MERGE: QT_TRANSLATE_NOOP("Actions", "Me&rge"),
    ConflictResolution.MANUAL: QT_TRANSLATE_NOOP("Actions", "&Ask me (manual)"),
}


class WindowActions(QObject):
    def __init__(self, window: QWidget) -> None:
        super().__init__(window)

        def make(
            name: str,
            text: str,
            shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
            tip: str = "",
            glyph: QIcon | None = None,
            checkable: bool = False,
        ) -> QAction:
            action = QAction(text, window)
            action.setObjectName(name)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if tip:
                action.setStatusTip(tip)
                action.setToolTip(tip)
            if glyph is not None:
                action.setIcon(glyph)
                if self._line_icons and self._line_icons[-1][0] is None:
                    self._line_icons[-1] = (action, self._line_icons[-1][1])
            action.setCheckable(checkable)
            window.addAction(action)
            return action

        ink = window.palette().color(QPalette.ColorRole.WindowText)
        self._line_icons: list[tuple[QAction | None, str]] = []

        def line(name: str) -> QIcon:
            self._line_icons.append((None, name))  # the action is filled in by make()
            return action_icon(name, ink)

        # Sync
        self.sync_now = make(
            "actionSyncNow",
            translate("Actions", "&Sync Now"),
            "F5",
            translate("Actions", "Send every operation that is due now"),
            line("sync"),
        )
        self.auto_sync = make(
            "actionAutoSync",
            translate("Actions", "&Auto Sync"),
            None,
            translate("Actions", "Sync by itself when the connection is up and work is due"),
            checkable=True,
        )
        self.pause = make(
            "actionPause",
            translate("Actions", "&Pause Syncing"),
            "Ctrl+Shift+P",
            translate("Actions", "Stop sending until you resume"),
            line("pause"),
            checkable=True,
        )
        self.check = make(
            "actionCheckConnectivity",
            translate("Actions", "Check Co&nnectivity Now"),
            "Ctrl+K",
            translate("Actions", "Probe the configured endpoints now"),
            line("check"),
        )
        self.conflicts = make(
            "actionConflicts",
            translate("Actions", "Resolve &Conflicts…"),
            "Ctrl+Shift+C",
            translate("Actions", "Decide between your version and the server's"),
            line("conflicts"),
        )
        self.details = make(
            "actionConnectionDetails",
            translate("Actions", "Connection &Details…"),
            "Ctrl+Shift+D",
            translate(
                "Actions",
                "Endpoints checked, queue numbers and the last sync (the status indicator)",
            ),
        )
        self.strategy_group = QActionGroup(window)
        self.strategy_group.setExclusive(True)
        self.strategies: dict[ConflictResolution, QAction] = {}
        for strategy in ConflictResolution:
            action = make(
                f"actionStrategy_{strategy.value}", translate("Actions", _STRATEGY_ITEMS[strategy])
            )
            action.setCheckable(True)
            action.setData(strategy.value)
            self.strategy_group.addAction(action)
            self.strategies[strategy] = action
        # Queue
        self.add = make(
            "actionAddOperation",
            translate("Actions", "&Add Operation…"),
            QKeySequence.StandardKey.New,
            translate("Actions", "Queue a new operation by hand"),
            line("add"),
        )
        self.inspect = make(
            "actionInspect",
            translate("Actions", "&Inspect…"),
            "Ctrl+I",
            translate("Actions", "Show everything about this operation"),
            line("inspect"),
        )
        self.retry = make(
            "actionRetryNow",
            translate("Actions", "&Retry Now"),
            "Ctrl+R",
            translate("Actions", "Try the selected operations again now"),
            line("retry"),
        )
        self.cancel = make(
            "actionCancel",
            translate("Actions", "Ca&ncel"),
            None,
            translate("Actions", "Stop the selected operations from being sent"),
            line("cancel"),
        )
        self.priority = make(
            "actionChangePriority",
            translate("Actions", "Change &Priority…"),
            "Ctrl+Shift+R",
            translate("Actions", "Higher priority operations are sent first"),
        )
        self.delete = make(
            "actionDeleteSelected",
            translate("Actions", "&Delete Selected…"),
            QKeySequence.StandardKey.Delete,
            translate("Actions", "Remove the selected operations from the queue"),
            line("delete"),
        )
        # The Delete key must not fire while typing in the search field: the window gives
        # this action to the table instead, where its shortcut applies.
        self.delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.removeAction(self.delete)
        self.retry_failed = make(
            "actionRetryFailed",
            translate("Actions", "Retry All &Failed"),
            None,
            translate("Actions", "Queue every failed operation again"),
        )
        self.clear_completed = make(
            "actionClearCompleted",
            translate("Actions", "C&lear Completed"),
            None,
            translate("Actions", "Remove operations that were sent successfully"),
        )
        self.export = make(
            "actionExport",
            translate("Actions", "&Export…"),
            "Ctrl+E",
            translate("Actions", "Save the listed operations as JSON"),
            line("export"),
        )
        self.find = make("actionFind", translate("Actions", "&Find"), QKeySequence.StandardKey.Find)
        # File
        self.settings = make(
            "actionSettings",
            translate("Actions", "&Settings…"),
            "Ctrl+,",
            translate("Actions", "Endpoints, sync targets, credentials"),
            line("settings"),
        )
        self.open_data = make(
            "actionOpenDataFolder",
            translate("Actions", "Open &Data Folder"),
            None,
            translate("Actions", "Where the queue database lives"),
            line("folder"),
        )
        self.export_transfer = make(
            "actionExportTransfer",
            translate("Actions", "Export for &Transfer…"),
            None,
            translate(
                "Actions",
                "Write the operations not exported yet, with their files, into a bundle for"
                " a connected machine",
            ),
        )
        self.import_transfer = make(
            "actionImportTransfer",
            translate("Actions", "&Import Transfer…"),
            None,
            translate("Actions", "Check a bundle from an offline machine and queue what it holds"),
        )
        self.quit = make(
            "actionQuit",
            translate("Actions", "&Quit"),
            "Ctrl+Q",
            translate("Actions", "Quit PEFT Studio Offline"),
        )
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        # Help
        self.shortcuts = make("actionShortcuts", translate("Actions", "&Keyboard Shortcuts"), "F1")
        self.open_logs = make("actionOpenLogFolder", translate("Actions", "Open &Log Folder"))
        self.about = make("actionAbout", translate("Actions", "&About PEFT Studio Offline"))
        self.about.setMenuRole(QAction.MenuRole.AboutRole)

        self.selection_actions = (self.inspect, self.retry, self.cancel, self.priority, self.delete)

    def recolour(self, palette: QPalette) -> None:
        """Redraw the line icons in the palette's text colour (light/dark switch)."""
        ink = palette.color(QPalette.ColorRole.WindowText)
        for action, name in self._line_icons:
            if action is not None:
                action.setIcon(action_icon(name, ink))

    def build_menus(self, bar: QMenuBar) -> dict[str, QMenu]:
        menus: dict[str, QMenu] = {}
        file_menu = bar.addMenu(translate("Actions", "&File"))
        file_menu.addActions([self.settings, self.open_data])
        file_menu.addSeparator()
        file_menu.addActions([self.export_transfer, self.import_transfer])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        menus["file"] = file_menu

        sync = bar.addMenu(translate("Actions", "&Sync"))
        sync.addActions([self.sync_now, self.auto_sync, self.pause])
        strategy = sync.addMenu(translate("Actions", "Conflict S&trategy"))
        strategy.addActions(list(self.strategies.values()))
        sync.addSeparator()
        sync.addActions([self.conflicts, self.check, self.details])
        menus["sync"] = sync
        menus["strategy"] = strategy

        queue = bar.addMenu(translate("Actions", "&Queue"))
        queue.addAction(self.add)
        queue.addSeparator()
        queue.addActions([self.inspect, self.retry, self.cancel, self.priority, self.delete])
        queue.addSeparator()
        queue.addActions([self.retry_failed, self.clear_completed, self.export])
        menus["queue"] = queue

        help_menu = bar.addMenu(translate("Actions", "&Help"))
        help_menu.addActions([self.shortcuts, self.open_logs])
        help_menu.addSeparator()
        help_menu.addAction(self.about)
        menus["help"] = help_menu
        return menus

    def context_menu(self, parent: QWidget) -> QMenu:
        menu = QMenu(parent)
        menu.setObjectName("queueContextMenu")
        menu.addActions([self.inspect, self.retry, self.cancel, self.priority])
        menu.addSeparator()
        menu.addAction(self.delete)
        return menu
