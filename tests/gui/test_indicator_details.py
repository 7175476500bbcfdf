"""The status-bar indicator and the details panel it opens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QTreeWidget

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.history import StatsHistory
from peft_studio_offline.gui.indicator import indicator_state
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer, Reply


def test_indicator_words() -> None:
    stats = {"pending": 3, "in_progress": 1, "conflict": 2, "failed": 0}
    assert indicator_state("online", stats).word == "Online"
    assert indicator_state("offline", stats).word == "Offline"
    assert indicator_state("limited", stats).word == "Limited (captive portal)"
    assert indicator_state("online", stats, paused=True).word == "Paused"
    syncing = indicator_state("online", stats, syncing=True, done=12, total=40)
    assert syncing.word == "Syncing 12 of 40"
    assert syncing.pending == 4 and syncing.conflicts == 2 and syncing.failed == 0
    assert syncing.summary == "Syncing 12 of 40 · 4 pending · 2 in conflict"


def test_history_keeps_one_sample_per_bucket_and_drops_old_ones() -> None:
    now = [1000.0]
    history = StatsHistory(span_seconds=600, bucket_seconds=60, clock=lambda: now[0])
    for i in range(10):
        history.add_counts(i, 0)
        now[0] += 5
    assert len(history.counts) == 2 and history.counts[-1].pending == 9
    history.add_sync(7, 1)
    now[0] += 1000
    history.add_counts(1, 1)
    assert len(history.counts) == 1 and not history.syncs


async def test_counts_follow_the_queue(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "metric_log", "payload": {"run_id": "r"}} for _ in range(3)]
    )
    await until(lambda: window.indicator.state.pending == 3)  # type: ignore[union-attr]
    pending_label = window.indicator.findChild(QLabel, "offlineIndicatorPending")
    assert pending_label is not None and pending_label.text() == "3 pending"
    claimed = await core.queue.claim(limit=2)
    await core.queue.mark_failed(claimed[0].id, "boom", permanent=True)
    await core.queue.mark_conflict(claimed[1].id, local={"a": 1}, remote={"a": 2})
    await until(lambda: window.indicator.state.failed == 1)  # type: ignore[union-attr]
    assert window.indicator.state.conflicts == 1  # type: ignore[union-attr]
    badge = window.indicator.findChild(QLabel, "offlineIndicatorFailed")
    assert badge is not None and not badge.isHidden() and badge.text() == "1 failed"
    assert "(1)" in window.actions_.conflicts.text()


async def test_clicking_the_indicator_opens_the_details(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: window.bridge.stats.get("pending") == 1)
    indicator = window.indicator
    QTest.mouseClick(indicator, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    details = window.findChild(QFrame, "offlineDetails")
    assert details is not None and details.isVisible()
    value = details.findChild(QLabel, "offlineDetailsStat_pending")
    assert value is not None and value.text() == "1"
    names = [b.defaultAction().objectName() for b in details.buttons]  # type: ignore[attr-defined]
    assert names == ["actionCheckConnectivity", "actionSyncNow", "actionPause"]
    details.close()
    # Keyboard: focus the indicator and press Space.
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window)
    indicator.setFocus()
    QTest.keyClick(indicator, Qt.Key.Key_Space)
    assert details.isVisible()
    details.close()


@pytest.fixture
def health() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, "ok")) as server:
        yield server


async def test_details_show_each_endpoint_and_check_now(
    core: Core, window: MainWindow, health: HttpServer
) -> None:
    monitor = NetworkMonitor(endpoints=[health.url("/health")], check_interval=60)
    window.bridge.monitor = monitor
    monitor.add_callback(window.bridge._on_network_change)
    details = window.open_details()
    window.actions_.check.trigger()
    await until(lambda: monitor.status is NetworkStatus.ONLINE)
    await until(lambda: window.indicator.text == "Online")
    tree = details.findChild(QTreeWidget, "offlineDetailsEndpoints")
    assert tree is not None
    await until(lambda: tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(1) == "OK")
    item = tree.topLevelItem(0)
    assert item.text(0) == health.url("/health")
    assert item.text(2).endswith(" ms")
    assert "Checked" in details.findChild(QLabel, "offlineDetailsChecked").text()  # type: ignore[union-attr]
    health.stop()
    window.actions_.check.trigger()
    await until(lambda: tree.topLevelItem(0).text(1) not in ("OK", ""), timeout=20)
    details.close()
    window.tasks.cancel_all()  # the monitor may still be confirming the failure
    await window.tasks.drain()
    await monitor.aclose()


async def test_pause_and_resume(core: Core, window: MainWindow) -> None:
    window.actions_.auto_sync.setChecked(True)
    await until(lambda: core.engine.auto_sync_enabled)
    await until(lambda: core.monitor is not None)
    window.actions_.pause.trigger()
    await until(lambda: not core.engine.auto_sync_enabled)
    assert window.paused and window.actions_.pause.text() == "&Resume Syncing"
    window.actions_.pause.trigger()
    await until(lambda: core.engine.auto_sync_enabled)
    window.actions_.auto_sync.setChecked(False)
    await until(lambda: not core.engine.auto_sync_enabled)
