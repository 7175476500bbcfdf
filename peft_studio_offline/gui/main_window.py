"""The main window: composes the queue table, the filter bar, the status-bar indicator, the
details panel, the menus and the tray icon, and connects them to the bridge and commands.

It holds no rules: what an action does lives in ``commands``; what the indicator says in
``indicator``; how the table pages in ``queue_model``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPoint, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QToolBar,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.enums import ConflictResolution, NetworkStatus, OperationStatus
from peft_studio_offline.core.operation import OperationSummary
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.storage_budget import StorageLevel
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.actions import WindowActions
from peft_studio_offline.gui.bounded_text import size_text
from peft_studio_offline.gui.bridge import CoreBridge
from peft_studio_offline.gui.commands import WindowCommands
from peft_studio_offline.gui.details_panel import OfflineDetails
from peft_studio_offline.gui.filter_bar import FilterBar
from peft_studio_offline.gui.history import StatsHistory
from peft_studio_offline.gui.i18n import translate
from peft_studio_offline.gui.icons import app_icon
from peft_studio_offline.gui.indicator import OfflineIndicator, indicator_state
from peft_studio_offline.gui.queue_model import QueueFilter, QueueTableModel
from peft_studio_offline.gui.queue_view import QueueView
from peft_studio_offline.gui.run_groups import RunGroupsView
from peft_studio_offline.gui.tasks import TaskKeeper
from peft_studio_offline.gui.tray import TrayIcon
from peft_studio_offline.gui.window_state import WindowState

if TYPE_CHECKING:
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine

log = logging.getLogger(__name__)

TITLE = "PEFT Studio Offline"


class MainWindow(QMainWindow):
    """The window over one queue, network monitor and sync engine made by the caller.

    The monitor and the engine may come later: with ``None`` for both the window shows the
    queue at once and the sync controls wait, disabled, for ``attach_services()`` (the app
    paints its window before it loads the HTTP stack and the engine).
    """

    quit_requested = Signal()
    first_painted = Signal()  # the table painted for the first time with its first page
    services_attached = Signal()  # the monitor and the engine are attached
    # A StorageLevel: the storage budget's warning level changed (emitted from the thread
    # that measured it; Qt hands it to the window's thread).
    storage_level_changed = Signal(object)

    def __init__(
        self,
        queue_manager: OfflineQueueManager,
        network_monitor: NetworkMonitor | None,
        sync_engine: SyncEngine | None,
        *,
        paths: AppPaths | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.paths = paths or AppPaths.from_environment()
        # The document first, the app last: platforms that add the application's name to
        # a title (X11, Wayland) add nothing to one that already ends with it.
        self.setWindowTitle(
            translate("MainWindow", "{document} — {app}").format(
                document=queue_manager.db_path.name, app=TITLE
            )
        )
        self.setWindowIcon(app_icon())
        self.resize(1180, 720)

        self.tasks = TaskKeeper(on_error=self._show_error)
        self.bridge = CoreBridge(queue_manager, None, None, self.tasks, self)
        self.commands = WindowCommands(self.bridge, self.tasks, self)
        self.history = StatsHistory()
        self.paused = False
        self.pending_dialog: QWidget | None = None  # the last dialog opened (tests look here)
        self.context_menu: QMenu | None = None
        self.error_box: QMessageBox | None = None
        self._details: OfflineDetails | None = None
        self._closing = False
        self._storage_level = 0

        self.model = QueueTableModel(queue_manager, self.tasks, self)
        self.actions_ = WindowActions(self)
        self.menus = self.actions_.build_menus(self.menuBar())
        self._build_central()
        self._build_toolbar()
        self._build_status_bar()
        self.tray = TrayIcon(self.actions_, self)
        self.menus["sync"].aboutToShow.connect(self.refresh_auto_sync)
        self._connect()
        self._sync_action_states()
        self.storage_level_changed.connect(self._on_storage_level)
        budget = queue_manager.storage_budget
        self._stop_storage_watch = (
            None if budget is None else budget.listen(self.storage_level_changed.emit)
        )

        # "Due now" and retry times depend on the clock: repaint (no reads) now and then.
        self._clock_timer = QTimer(self)
        self._clock_timer.setInterval(15_000)
        self._clock_timer.timeout.connect(self.view.viewport().update)
        self._clock_timer.start()

        self.window_state = WindowState(self.paths.config_dir)
        self.window_state.restore(self, self.view.horizontalHeader())
        header = self.view.horizontalHeader()
        self.model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
        self._painted = False
        self.view.viewport().installEventFilter(self)
        self.model.reload()
        if network_monitor is not None or sync_engine is not None:
            self.attach_services(network_monitor, sync_engine)

    def attach_services(
        self, network_monitor: NetworkMonitor | None, sync_engine: SyncEngine | None
    ) -> None:
        """Drive ``network_monitor`` and ``sync_engine`` from now on (ignored once closing)."""
        if self._closing or not self.bridge.attach(network_monitor, sync_engine):
            return
        a = self.actions_
        strategy = self.commands.conflict_strategy()
        if strategy is not None:
            a.strategies[strategy].setChecked(True)
        self.refresh_auto_sync()
        self._syncing_actions(self.bridge.sync_visible)
        self._refresh_indicator()
        self.bridge.announce_network_info()
        self.services_attached.emit()

    def refresh_auto_sync(self) -> None:
        """The Auto Sync item shows what the engine does now (it may have been started, or
        stopped, after the window last asked)."""
        # While paused the item keeps what resuming restores.
        if self.bridge.attached and not self.paused:
            self._on_bridge_auto_sync_changed(self.bridge.auto_sync_enabled())

    @property
    def services_ready(self) -> bool:
        return self.bridge.attached

    # --------------------------------------------------------------------- build

    def _build_central(self) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.filter_bar = FilterBar(central)
        self.view = QueueView(self.model, central)
        self.view.addAction(self.actions_.delete)
        self.run_groups = RunGroupsView(self.bridge.queue, self.tasks, central)
        self.run_groups.itemActivated.connect(self._on_run_group_activated)
        self.pages = QStackedWidget(central)
        self.pages.addWidget(self.view)
        self.pages.addWidget(self.run_groups)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

    def _build_toolbar(self) -> None:
        bar = QToolBar(translate("MainWindow", "Main toolbar"), self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(18, 18))
        a = self.actions_
        bar.addActions([a.sync_now, a.check])
        bar.addSeparator()
        bar.addActions([a.add, a.retry, a.delete])
        bar.addSeparator()
        bar.addAction(a.conflicts)
        bar.addSeparator()
        self.group_by_run = QAction(translate("MainWindow", "Group by &Run"), self)
        self.group_by_run.setObjectName("actionGroupByRun")
        self.group_by_run.setCheckable(True)
        self.group_by_run.setToolTip(
            translate(
                "MainWindow",
                "Show operations per MLflow run or Hub repository, with counts per status",
            )
        )
        self.group_by_run.toggled.connect(self.show_run_groups)
        bar.addAction(self.group_by_run)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("statusBar")
        self.progress = QProgressBar(status)
        self.progress.setObjectName("syncProgress")
        self.progress.setAccessibleName(translate("MainWindow", "Sync progress"))
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setFormat(translate("MainWindow", "%v of %m"))
        self.progress.hide()
        self.indicator = OfflineIndicator(status)
        self.storage_warning = QLabel(status)
        self.storage_warning.setObjectName("storageWarning")
        self.storage_warning.setTextFormat(Qt.TextFormat.PlainText)
        self.storage_warning.hide()
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.storage_warning)
        status.addPermanentWidget(self.indicator)

    def _connect(self) -> None:
        a, b, c = self.actions_, self.bridge, self.commands
        a.sync_now.triggered.connect(c.sync_now)
        a.check.triggered.connect(c.check_connectivity)
        a.auto_sync.toggled.connect(self._on_auto_sync_toggled)
        a.pause.toggled.connect(self._on_pause_toggled)
        a.strategy_group.triggered.connect(self._on_strategy_triggered)
        a.conflicts.triggered.connect(self.open_conflicts)
        a.add.triggered.connect(self.open_add_operation)
        a.inspect.triggered.connect(self._inspect_current)
        a.retry.triggered.connect(lambda: c.retry(self.selected_ids()))
        a.cancel.triggered.connect(lambda: c.cancel(self.selected_ids()))
        a.priority.triggered.connect(self.ask_priority)
        a.delete.triggered.connect(self.confirm_delete)
        a.retry_failed.triggered.connect(c.retry_failed)
        a.clear_completed.triggered.connect(c.clear_completed)
        a.export.triggered.connect(self.ask_export)
        a.export_transfer.triggered.connect(self.ask_export_transfer)
        a.import_transfer.triggered.connect(self.ask_import_transfer)
        a.find.triggered.connect(self._focus_search)
        a.settings.triggered.connect(self.open_settings)
        a.open_data.triggered.connect(lambda: self._open_folder(self.bridge.queue.db_path.parent))
        a.open_logs.triggered.connect(lambda: self._open_folder(self.paths.log_dir))
        a.quit.triggered.connect(self.quit)
        a.shortcuts.triggered.connect(self.open_shortcuts)
        a.about.triggered.connect(self.open_about)

        b.queue_changed.connect(self.model.apply_change)
        b.queue_changed.connect(self.run_groups.apply_change)
        b.stats_changed.connect(self._on_bridge_stats_changed)
        b.network_changed.connect(self._on_bridge_network_changed)
        b.network_checked.connect(self._on_bridge_network_checked)
        b.sync_started.connect(self._on_bridge_sync_started)
        b.sync_progress.connect(self._on_bridge_sync_progress)
        b.sync_finished.connect(self._on_bridge_sync_finished)
        b.auto_sync_changed.connect(self._on_bridge_auto_sync_changed)
        b.settings_applied.connect(self._refresh_table_context)
        c.message.connect(self._on_commands_message)
        c.failed.connect(self._show_error)

        self.indicator.clicked.connect(lambda: self.open_details())
        a.details.triggered.connect(lambda: self.open_details())
        self.indicator.failed_badge_clicked.connect(self.show_failed)
        self.filter_bar.filter_changed.connect(self._on_filter_changed)
        self.model.total_changed.connect(self._update_count)
        self.model.page_loaded.connect(self._update_count)
        self.view.inspect_requested.connect(self.open_inspect)
        self.view.context_menu_requested.connect(self._on_view_context_menu)
        self.view.selectionModel().selectionChanged.connect(self._sync_action_states)
        self.model.modelReset.connect(self._sync_action_states)
        self.model.page_loaded.connect(self.view.viewport().update)

        self._syncing_actions(False)

    # ---------------------------------------------------------------- selection

    def selected_operations(self) -> list[OperationSummary]:
        return self.model.operations(self.view.selected_rows())

    def selected_ids(self) -> list[int]:
        return [op.id for op in self.selected_operations()]

    def _sync_action_states(self, *args: object) -> None:
        has = bool(self.view.selected_rows())
        for action in self.actions_.selection_actions:
            action.setEnabled(has)

    # ------------------------------------------------------------------- status

    def _refresh_table_context(self) -> None:
        """What the table's host and next-attempt columns depend on: the targets set, the
        network, the hosts paused after repeated failures (the engine's view of them)."""
        engine = self.bridge.engine
        if engine is None:
            return
        self.model.set_moment(engine.moment())
        self.model.set_targets(engine.targets())

    def _refresh_indicator(self) -> None:
        b = self.bridge
        state = indicator_state(
            b.network_status,
            b.stats,
            syncing=b.sync_visible,
            done=b.sync_done,
            total=b.sync_total,
            paused=self.paused,
            probing=not b.attached or not b.probes_nothing,
            held=b.sync_held,
        )
        self.indicator.show_state(state)
        self.tray.show_state(state)
        self._refresh_table_context()
        if self._details is not None and self._details.isVisible():
            self._details.show_state(state)
        conflicts = state.conflicts
        self.actions_.conflicts.setText(
            translate("Actions", "Resolve &Conflicts ({count})…").format(
                count=formatting.count(conflicts)
            )
            if conflicts
            else translate("Actions", "Resolve &Conflicts…")
        )
        # Nothing to resolve, nothing to open.
        self.actions_.conflicts.setEnabled(b.attached and conflicts > 0)
        self.actions_.conflicts.setToolTip(
            translate("Actions", "Decide between your version and the server's")
            if conflicts
            else translate("Actions", "No conflicts: everything queued agrees with the server")
        )

    def _on_storage_level(self, state: StorageLevel) -> None:
        """The storage budget's warning: kept in the status bar while it holds, told once
        (tray or status bar) each time a level is crossed upwards."""
        if self._closing:
            return
        shown = self.storage_warning
        shown.setText(
            translate("MainWindow", "Storage: {percent}% of its budget").format(
                percent=formatting.count(round(state.percent))
            )
        )
        sentence = translate(
            "MainWindow",
            "The app's files take {percent}% of their storage budget ({used} of {limit}: the"
            " storage budget in File → Settings); finished operations are removed after their"
            " retention period.",
        ).format(
            percent=formatting.count(round(state.percent)),
            used=size_text(state.used),
            limit=size_text(state.limit),
        )
        shown.setToolTip(sentence)
        shown.setAccessibleName(sentence)
        shown.setVisible(state.level > 0)
        if state.level > self._storage_level:
            title = (
                translate("MainWindow", "Storage full")
                if state.percent >= 100
                else translate("MainWindow", "Storage almost full")
                if state.level >= 95
                else translate("MainWindow", "Storage filling up")
            )
            self.tray.notify(title, sentence, warning=True)
        self._storage_level = state.level

    def _on_commands_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)
        # The details panel covers the status bar's message area: it says it too.
        if self._details is not None and self._details.isVisible():
            self._details.show_note(text)

    def show_failed(self) -> None:
        """The failure badge: list the failed operations."""
        self.filter_bar.show_status(OperationStatus.FAILED)

    def _on_bridge_stats_changed(self, stats: dict[str, int]) -> None:
        pending = stats.get(OperationStatus.PENDING, 0) + stats.get(OperationStatus.IN_PROGRESS, 0)
        self.history.add_counts(pending, stats.get(OperationStatus.FAILED, 0))
        self._refresh_indicator()
        if self._details is not None and self._details.isVisible():
            self._details.show_stats(stats)

    def _on_bridge_network_changed(self, old: str, new: str) -> None:
        self._refresh_indicator()
        pending = self.bridge.stats.get(OperationStatus.PENDING, 0)
        if new == NetworkStatus.ONLINE and old != NetworkStatus.UNKNOWN and pending:
            self.tray.notify(
                translate("MainWindow", "Back online"),
                translate("MainWindow", "%Ln operation(s) waiting to be sent.", None, pending),
            )

    def _on_bridge_network_checked(self, info: dict[str, Any]) -> None:
        if self._details is not None and self._details.isVisible():
            self._details.show_network(info)

    def _syncing_actions(self, syncing: bool) -> None:
        a, ready = self.actions_, self.bridge.attached
        a.sync_now.setEnabled(ready and not syncing)
        for action in (a.check, a.auto_sync, a.pause, *a.strategy_group.actions()):
            action.setEnabled(ready)
        # Resolve Conflicts follows the conflict count (``_refresh_indicator``).

    def _on_bridge_sync_started(self, total: int) -> None:
        self.progress.setRange(0, total or 0)  # 0..0 shows a busy bar until the total is known
        self.progress.setValue(0)
        self.progress.show()
        self._syncing_actions(True)
        self._refresh_indicator()

    def _on_bridge_sync_progress(self, done: int, total: int) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.progress.show()
        self._refresh_indicator()

    def _on_bridge_sync_finished(self, result: dict[str, Any]) -> None:
        self.progress.hide()
        self._syncing_actions(False)
        if result:
            duration = result.get("duration") or 0.0
            self.history.add_sync(
                int(result.get("completed", 0) or 0),
                int(result.get("failed", 0) or 0),
                float(duration),
            )
        self._refresh_indicator()
        if self._details is not None and self._details.isVisible():
            self._details.show_last_sync(self.bridge.last_sync, self.bridge.last_sync_at)
        failed = int(result.get("failed", 0) or 0)
        conflicts = int(result.get("conflicts", 0) or 0)
        if failed or conflicts or result.get("waiting"):
            from peft_studio_offline.gui.words import outcome_phrases

            text = ", ".join(outcome_phrases(result)) + "."
            self.tray.notify(
                translate("MainWindow", "Sync finished with problems"), text, warning=True
            )

    def _on_bridge_auto_sync_changed(self, enabled: bool) -> None:
        action = self.actions_.auto_sync
        action.blockSignals(True)
        action.setChecked(enabled)
        action.blockSignals(False)

    def _on_auto_sync_toggled(self, enabled: bool) -> None:
        if not self.paused:
            self.commands.set_auto_sync(enabled)

    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.refresh_auto_sync()  # what resuming will restore
        self.paused = paused
        self.actions_.pause.setText(
            translate("Actions", "&Resume Syncing")
            if paused
            else translate("Actions", "&Pause Syncing")
        )
        self.commands.set_paused(paused, self.actions_.auto_sync.isChecked())
        self._refresh_indicator()

    def _on_strategy_triggered(self, action: Any) -> None:
        self.commands.set_conflict_strategy(ConflictResolution(action.data()))

    # -------------------------------------------------------------- table, filter

    def show_run_groups(self, shown: bool) -> None:
        """Operations per run or repository instead of one by one (the filters apply to the
        table only, so they are hidden meanwhile)."""
        if self.group_by_run.isChecked() != shown:
            self.group_by_run.setChecked(shown)  # comes back here through ``toggled``
            return
        self.pages.setCurrentWidget(self.run_groups if shown else self.view)
        self.filter_bar.setVisible(not shown)
        if shown:
            self.run_groups.refresh()

    def _on_run_group_activated(self, item: QTreeWidgetItem, column: int) -> None:
        """A run's operations: the table, searched for its name."""
        self.show_run_groups(False)
        self.filter_bar.search.setText(item.text(0))

    def _on_filter_changed(self, queue_filter: QueueFilter) -> None:
        self.model.set_filter(queue_filter)

    def _update_count(self, *args: object) -> None:
        self.filter_bar.show_count(self.model.rowCount(), self.model.total)

    def _focus_search(self) -> None:
        self.filter_bar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search.selectAll()

    def _on_view_context_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(self.view.viewport().mapFromGlobal(position))
        if index.isValid() and index.row() not in self.view.selected_rows():
            self.view.selectRow(index.row())
        menu = self.actions_.context_menu(self)
        self.context_menu = menu
        menu.popup(position)

    # ------------------------------------------------------------------ dialogs

    def confirm_delete(self) -> QMessageBox | None:
        """Ask before deleting the selection; the dialog names what will go."""
        operations = self.selected_operations()
        if not operations:
            return None
        from peft_studio_offline.gui.dialogs.confirm import delete_confirmation

        box = delete_confirmation(self, operations)
        ids = [op.id for op in operations]
        box.accepted.connect(lambda: self.commands.delete(ids))
        self.pending_dialog = box
        box.open()
        return box

    def ask_priority(self) -> QInputDialog | None:
        operations = self.selected_operations()
        if not operations:
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("priorityDialog")
        dialog.setWindowTitle(translate("MainWindow", "Change Priority"))
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setIntRange(-1000, 1000)
        dialog.setIntValue(operations[0].priority)
        names = ", ".join(f"#{op.id}" for op in operations[:5])
        rest = len(operations) - 5
        label = (
            translate(
                "MainWindow",
                "Priority for {names} and %Ln more (higher is sent first):",
                None,
                rest,
            )
            if rest > 0
            else translate("MainWindow", "Priority for {names} (higher is sent first):")
        )
        dialog.setLabelText(label.format(names=names))
        ids = [op.id for op in operations]
        dialog.intValueSelected.connect(lambda value: self.commands.set_priority(ids, value))
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def ask_export(self) -> QFileDialog:
        dialog = QFileDialog(
            self,
            translate("MainWindow", "Export Operations"),
            str(Path.home() / "operations.json"),
        )
        dialog.setObjectName("exportDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(translate("MainWindow", "JSON files (*.json)"))
        dialog.setDefaultSuffix("json")
        query = self.model.queue_filter.query()
        dialog.fileSelected.connect(lambda name: self.commands.export(Path(name), query))
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def ask_export_transfer(self) -> QFileDialog:
        """A folder to write a transfer bundle in (a new folder is made inside it)."""
        dialog = self._folder_dialog(
            translate("MainWindow", "Export for Transfer: Choose a Drive or Folder")
        )
        dialog.setObjectName("exportTransferDialog")
        dialog.fileSelected.connect(lambda name: self.commands.export_transfer(Path(name)))
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def ask_import_transfer(self) -> QFileDialog:
        """The folder of a transfer bundle to import."""
        dialog = self._folder_dialog(
            translate("MainWindow", "Import Transfer: Choose the Bundle's Folder")
        )
        dialog.setObjectName("importTransferDialog")
        dialog.fileSelected.connect(lambda name: self.commands.import_transfer(Path(name)))
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def _folder_dialog(self, title: str) -> QFileDialog:
        dialog = QFileDialog(self, title, str(Path.home()))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        return dialog

    def _inspect_current(self) -> None:
        rows = self.view.selected_rows()
        if rows:
            self.open_inspect(rows[0])

    def open_inspect(self, row: int) -> QWidget | None:
        operation = self.model.operation_at(row)
        if operation is None:
            return None
        from peft_studio_offline.gui.dialogs.inspect import InspectDialog

        dialog = InspectDialog(
            self.bridge.queue,
            operation,
            self.tasks,
            self,
            moment=self.model.moment,
            host=self.model.host_of(row),
            target_known=self.model.target_known(row),
        )
        self.pending_dialog = dialog
        dialog.show()
        return dialog

    def open_details(self) -> OfflineDetails:
        if self._details is None:
            a = self.actions_
            self._details = OfflineDetails(
                self.history, [a.check, a.sync_now, a.pause], self, settings_action=a.settings
            )
            self._details.refresh_due.connect(self._on_details_refresh_due)
        details = self._details
        b = self.bridge
        details.show_stats(b.stats)
        details.show_network(b.network_info())
        details.show_last_sync(*b.last_sync_summary())
        self._refresh_indicator()
        if self.indicator.state is not None:
            details.show_state(self.indicator.state)
        details.open_at(self.indicator)
        return details

    def _on_details_refresh_due(self) -> None:
        self._refresh_indicator()  # endpoints may have been set meanwhile
        if self._details is not None:
            self._details.show_network(self.bridge.network_info())
            self._details.show_last_sync(*self.bridge.last_sync_summary())
            self._details.chart.update()

    @property
    def details(self) -> OfflineDetails | None:
        return self._details

    def open_conflicts(self) -> QWidget:
        from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog

        dialog = ConflictDialog(self.bridge.queue, self.commands, self.tasks, self)
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def open_add_operation(self) -> QWidget:
        from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog

        dialog = AddOperationDialog(self.commands, self)
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def open_settings(self) -> QWidget:
        from peft_studio_offline.gui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.paths, self)
        dialog.saved.connect(
            lambda: self.statusBar().showMessage(
                translate(
                    "MainWindow",
                    "Saved to {file}; some settings take effect at the next start.",
                ).format(file=self.paths.settings_file),
                8000,
            )
        )
        dialog.saved.connect(self._refresh_indicator)
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def open_about(self) -> QWidget:
        from peft_studio_offline.gui.dialogs.about import about_box

        box = about_box(self, self.bridge.queue.db_path)
        self.pending_dialog = box
        box.open()
        return box

    def open_shortcuts(self) -> QWidget:
        from peft_studio_offline.gui.dialogs.shortcuts import ShortcutsDialog

        dialog = ShortcutsDialog([*self.actions(), self.actions_.delete], self)
        self.pending_dialog = dialog
        dialog.open()
        return dialog

    def _open_folder(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.statusBar().showMessage(
                translate("MainWindow", "The folder is {folder}").format(folder=folder), 15000
            )

    def _show_error(self, text: str) -> None:
        if self._closing:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, TITLE, text, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("errorMessage")
        box.setTextFormat(Qt.TextFormat.PlainText)  # it may quote a server or a file
        self.error_box = box
        box.open()

    # ------------------------------------------------------------------ closing

    def quit(self) -> None:
        """Ctrl+Q: close the window, which ends the application (``quit_requested``)."""
        self.close()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        # The system switched between light and dark: icons drawn in code follow.
        actions = getattr(self, "actions_", None)  # also called while __init__ runs
        if event.type() == QEvent.Type.PaletteChange and actions is not None:
            actions.recolour(self.palette())
        super().changeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        # The first paint of the table once its first page is in: the app starts its
        # services after it, so that nothing delays what the user sees first.
        if (
            not self._painted
            and event.type() == QEvent.Type.Paint
            and watched is self.view.viewport()
            and self.model.first_page_loaded
        ):
            self._painted = True
            self.view.viewport().removeEventFilter(self)
            self.first_painted.emit()  # what waits for it resumes after this paint
        return super().eventFilter(watched, event)

    @property
    def painted(self) -> bool:
        return self._painted

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.tray.show()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._closing = True
        if self._stop_storage_watch is not None:
            self._stop_storage_watch()
        try:
            self.window_state.save(self, self.view.horizontalHeader())
        except Exception:
            log.exception("Saving the window layout failed")
        self.bridge.close()
        self.model.shutdown()
        self._clock_timer.stop()
        self.tray.hide()
        if self._details is not None:
            self._details.close()
        super().closeEvent(event)
        self.quit_requested.emit()
