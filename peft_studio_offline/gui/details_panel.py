"""The panel the indicator opens: connectivity per endpoint, queue numbers, last sync, chart.

It shows what the bridge already knows and offers the window's own actions (Check now,
Sync now, Pause/Resume auto sync) as buttons, so it holds no rules of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QHideEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.masking import mask_text
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.chart import ActivityChart
from peft_studio_offline.gui.direction import isolate
from peft_studio_offline.gui.history import StatsHistory
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, once, translate
from peft_studio_offline.gui.icons import dot_icon, dot_pixmap
from peft_studio_offline.gui.indicator import IndicatorState

_STAT_ROWS = (
    (OperationStatus.PENDING, QT_TRANSLATE_NOOP("Details", "Pending")),
    (OperationStatus.IN_PROGRESS, QT_TRANSLATE_NOOP("Details", "Sending")),
    (OperationStatus.CONFLICT, QT_TRANSLATE_NOOP("Details", "In conflict")),
    (OperationStatus.FAILED, QT_TRANSLATE_NOOP("Details", "Failed")),
    (OperationStatus.COMPLETED, QT_TRANSLATE_NOOP("Details", "Completed")),
    ("total", QT_TRANSLATE_NOOP("Details", "Total")),
)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setWeight(QFont.Weight.DemiBold)
    label.setFont(font)
    return label


class OfflineDetails(QFrame):
    """A popup under (or above) the indicator; Escape or a click outside closes it.

    While it is open, ``refresh_due`` fires every second so that "checked 12 s ago" stays
    true; the window answers with what it already holds in memory (no database reads).
    """

    refresh_due = Signal()

    def __init__(
        self,
        history: StatsHistory,
        actions: Sequence[QAction],
        parent: QWidget | None = None,
        *,
        settings_action: QAction | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("offlineDetails")
        self.setAccessibleName(translate("Details", "Connection details"))
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)

        header = QHBoxLayout()
        self._dot = QLabel()
        self._title = QLabel()
        title_font = self._title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.25)
        title_font.setWeight(QFont.Weight.DemiBold)
        self._title.setFont(title_font)
        self._title.setWordWrap(True)  # "Not checking — no endpoints or sync targets set"
        self._checked = QLabel()
        self._checked.setObjectName("offlineDetailsChecked")
        self._checked.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header.addWidget(self._dot)
        header.addWidget(self._title, 1)
        header.addWidget(self._checked)
        layout.addLayout(header)

        layout.addWidget(_heading(translate("Details", "Connectivity")))
        self.endpoints = QTreeWidget()
        self.endpoints.setObjectName("offlineDetailsEndpoints")
        self.endpoints.setAccessibleName(translate("Details", "Endpoints checked"))
        self.endpoints.setRootIsDecorated(False)
        self.endpoints.setHeaderLabels(
            [
                translate("Details", "Endpoint"),
                translate("Details", "Result"),
                translate("Details", "Latency"),
                translate("Details", "Checked"),
            ]
        )
        self.endpoints.setMaximumHeight(96)
        self.endpoints.setUniformRowHeights(True)
        # A URL is read by its host and its end: cut in the middle, whole in its tooltip.
        self.endpoints.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header_view = self.endpoints.header()
        header_view.setStretchLastSection(False)
        header_view.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header_view.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        for column in (2, 3):
            header_view.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.endpoints)
        # With nothing to probe the status can never be known: say how to change that.
        self.not_checking = QLabel(
            translate(
                "Details",
                "Nothing is checked: no endpoint or sync target (API base URL, MLflow tracking"
                " URI) is set.",
            ),
            self,
        )
        self.not_checking.setObjectName("offlineDetailsNotChecking")
        self.not_checking.setWordWrap(True)
        self.set_endpoints = QToolButton(self)
        self.set_endpoints.setObjectName("offlineDetailsSetEndpoints")
        if settings_action is not None:
            self.set_endpoints.setDefaultAction(settings_action)
        self.set_endpoints.setText(translate("Details", "Set Endpoints…"))
        self.set_endpoints.setAccessibleName(translate("Details", "Set endpoints or sync targets"))
        self.set_endpoints.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.set_endpoints.clicked.connect(self.close)  # the Settings dialog comes next
        unset = QHBoxLayout()
        unset.addWidget(self.not_checking, 1)
        unset.addWidget(self.set_endpoints)
        layout.addLayout(unset)
        self.not_checking.hide()
        self.set_endpoints.hide()

        columns = QHBoxLayout()
        stats_box = QVBoxLayout()
        stats_box.addWidget(_heading(translate("Details", "Queue")))
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        self._stat_values: dict[str, QLabel] = {}
        for row, (key, label) in enumerate(_STAT_ROWS):
            name = QLabel(translate("Details", label))
            value = QLabel("0")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            value.setObjectName(f"offlineDetailsStat_{key}")
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            self._stat_values[str(key)] = value
        stats_box.addLayout(grid)
        stats_box.addStretch(1)
        columns.addLayout(stats_box)

        sync_box = QVBoxLayout()
        sync_box.addWidget(_heading(translate("Details", "Last sync")))
        self._last_sync = formatting.plain_label(
            QLabel(translate("Details", "No sync yet in this session."))
        )
        self._last_sync.setObjectName("offlineDetailsLastSync")
        self._last_sync.setWordWrap(True)
        self._last_sync.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sync_box.addWidget(self._last_sync)
        sync_box.addStretch(1)
        columns.addLayout(sync_box, 1)
        layout.addLayout(columns)

        layout.addWidget(_heading(translate("Details", "Activity")))
        self.chart = ActivityChart(history)
        layout.addWidget(self.chart)

        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.refresh_due)

        buttons = QHBoxLayout()
        # What the last button pressed here came to ("Connection checked: Offline.").
        self.note = formatting.plain_label(QLabel(self))
        self.note.setObjectName("offlineDetailsNote")
        self.note.setWordWrap(True)
        buttons.addWidget(self.note, 1)
        self.buttons: list[QToolButton] = []
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            button.setAccessibleName(action.text().replace("&", ""))
            buttons.addWidget(button)
            self.buttons.append(button)
        layout.addLayout(buttons)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self._ticker.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        self._ticker.stop()
        super().hideEvent(event)

    # ------------------------------------------------------------------- content

    def show_state(self, state: IndicatorState) -> None:
        self._dot.setPixmap(dot_pixmap(state.colour, 18, self.devicePixelRatioF()))
        self._title.setText(state.word)

    def show_stats(self, stats: Mapping[str, int]) -> None:
        for key, label in self._stat_values.items():
            label.setText(formatting.count(int(stats.get(key, 0))))
        self.chart.update()

    def show_note(self, text: str) -> None:
        self.note.setText(text)

    def show_network(self, info: Mapping[str, Any]) -> None:
        results = _endpoint_results(info)
        # Known to probe nothing (the monitor has no endpoint), not merely unknown yet (no
        # monitor attached while the window starts).
        listed = info.get("endpoints")
        nothing = isinstance(listed, list) and not listed
        last = formatting.parse_time(info.get("last_check"))
        upcoming = formatting.parse_time(info.get("next_check"))
        if nothing:
            parts = []  # the title says it; no countdown to checks that never come
        else:
            parts = [
                once.translate("Details", "Checked {when}").format(
                    when=formatting.relative_time(last)
                )
                if last
                else once.translate("Details", "Not checked yet")
            ]
            if upcoming:
                parts.append(
                    once.translate("Details", "next {when}").format(
                        when=formatting.relative_time(upcoming)
                    )
                )
        self._checked.setText(" · ".join(parts))
        self.endpoints.clear()
        for result in results:
            self.endpoints.addTopLevelItem(_endpoint_item(result))
        if not results:
            text = (
                once.translate("Details", "No endpoints or sync targets set")
                if nothing
                else once.translate("Details", "Not known yet")
            )
            item = QTreeWidgetItem([text, "", "", ""])
            item.setDisabled(True)
            self.endpoints.addTopLevelItem(item)
            item.setFirstColumnSpanned(True)
        self.not_checking.setVisible(nothing)
        self.set_endpoints.setVisible(nothing)
        self._fit_result_column()

    def _fit_result_column(self) -> None:
        """The result as wide as its text, but never more than a third of the list: a long
        error must leave the endpoint readable (it is whole in the tooltip)."""
        wanted = self.endpoints.sizeHintForColumn(1) + 12
        cap = max(120, self.endpoints.viewport().width() // 3)
        self.endpoints.header().resizeSection(1, min(wanted, cap))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_result_column()

    def show_last_sync(self, result: Mapping[str, Any] | None, at: float | None) -> None:
        if not result:
            self._last_sync.setText(once.translate("Details", "No sync yet in this session."))
            return
        self._last_sync.setText("\n".join(last_sync_lines(result, at)))

    def open_at(self, anchor: QWidget) -> None:
        """Show next to ``anchor`` (the indicator), kept on its screen, with the keyboard
        focus visibly on its first button."""
        self.adjustSize()
        origin = anchor.mapToGlobal(QPoint(0, 0))
        # Lined up with the indicator's outer edge: its right edge, or its left one in a
        # right-to-left layout, where the status bar's permanent widgets sit on the left.
        right = origin.x() + anchor.width() - self.width()
        x = origin.x() if anchor.isRightToLeft() else right
        y = origin.y() - self.height() - 4
        screen = anchor.screen().availableGeometry() if anchor.screen() else None
        if screen is not None:
            x = max(screen.left(), min(x, screen.right() - self.width()))
            if y < screen.top():
                y = origin.y() + anchor.height() + 4
        self.move(x, y)
        self.show()
        if self.buttons:
            self.buttons[0].setFocus(Qt.FocusReason.PopupFocusReason)
            # Styles draw the focus frame only in a window reached by the keyboard, and
            # setFocus() clears that mark: this popup is always meant to be used from it.
            self.setAttribute(Qt.WidgetAttribute.WA_KeyboardFocusChange)


def _endpoint_results(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ("endpoints", "results", "probes"):
        value = info.get(key)
        if isinstance(value, list):
            return [v if isinstance(v, Mapping) else {"url": str(v)} for v in value]
        if isinstance(value, Mapping):
            return [
                {"url": url, **(v if isinstance(v, Mapping) else {})} for url, v in value.items()
            ]
    return []


def _endpoint_item(result: Mapping[str, Any]) -> QTreeWidgetItem:
    url = mask_text(str(result.get("url", "?")))
    ok = result.get("ok")
    outcome = str(result.get("outcome") or ("healthy" if ok else "not checked"))
    if ok:
        text, colour = once.translate("Details", "OK"), formatting.NETWORK_COLOURS["online"]
    elif outcome == "intercepted":
        text = once.translate("Details", "Intercepted (portal?)")
        colour = formatting.NETWORK_COLOURS["limited"]
    elif ok is None and not result.get("error"):
        text, colour = (
            once.translate("Details", "Not checked"),
            formatting.NETWORK_COLOURS["unknown"],
        )
    else:
        status = result.get("http_status")
        error = result.get("error") or (f"HTTP {status}" if status else "error")
        text, colour = mask_text(str(error)), formatting.NETWORK_COLOURS["offline"]
    latency = result.get("latency_ms")
    checked = formatting.parse_time(result.get("checked_at"))
    # URLs, latencies and times read left to right in a mirrored layout too.
    item = QTreeWidgetItem(
        [
            isolate(url, left_to_right=True),
            isolate(text),
            isolate(
                once.translate("Details", "{ms} ms").format(ms=formatting.count(round(latency)))
                if isinstance(latency, int | float)
                else "—"
            ),
            isolate(
                formatting.local_time(checked, seconds=True) if checked else "—",
                left_to_right=True,
            ),
        ]
    )
    item.setIcon(1, dot_icon(colour))
    item.setToolTip(1, formatting.plain_tooltip(text))
    item.setToolTip(0, formatting.plain_tooltip(url))
    return item


def last_sync_lines(result: Mapping[str, Any], at: float | None, groups: int = 3) -> list[str]:
    """The last run in a few lines: counts, what was held back, its errors grouped."""
    # Here, not at the top: the sync package loads after the window's first paint.
    from peft_studio_offline.core.sync.progress import group_errors
    from peft_studio_offline.gui.words import describe_ids, outcome_phrases

    count = formatting.count
    sent = translate("Details", "{sent} of {total} sent").format(
        sent=count(int(result.get("completed", 0))), total=count(int(result.get("total", 0)))
    )
    if at:
        sent = translate("Details", "{when}: {what}").format(
            when=formatting.relative_time(formatting.parse_time(at)), what=sent
        )
    lines = [sent]
    lines += outcome_phrases(result)
    held = int(result.get("held_back", 0) or 0)
    if held:
        hosts = ", ".join(result.get("paused_hosts") or []) or translate("Details", "a host")
        lines.append(
            translate(
                "Details", "%Ln held back: {hosts} paused after repeated failures", None, held
            ).format(hosts=hosts)
        )
    grouped = group_errors(result.get("errors") or [])
    for group in grouped[:groups]:
        lines.append(f"{describe_ids(group.ids)}: {mask_text(group.error)}")
    rest = grouped[groups:]
    if rest:
        others = sum(len(g.ids) for g in rest)
        lines.append(translate("Details", "…and %Ln more with other errors", None, others))
    return lines
