"""The paged table model: Qt's model checks, paging, row-by-row updates, sort and filter."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QIcon

from peft_studio_offline.core.describe import Targets
from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.gui.queue_model import COLUMN_INDEX, QueueFilter, QueueTableModel
from peft_studio_offline.gui.tasks import TaskKeeper
from tests.gui.conftest import Core, until


class _Spy:
    """Counts the structural signals a model sends."""

    def __init__(self, model: QueueTableModel) -> None:
        self.resets = self.inserts = self.removes = self.changes = 0
        model.modelReset.connect(self._reset)
        model.rowsInserted.connect(self._insert)
        model.rowsRemoved.connect(self._remove)
        model.dataChanged.connect(self._change)

    def _reset(self) -> None:
        self.resets += 1

    def _insert(self, *args: object) -> None:
        self.inserts += 1

    def _remove(self, *args: object) -> None:
        self.removes += 1

    def _change(self, *args: object) -> None:
        self.changes += 1


@pytest.fixture
def models() -> Iterator[list[QueueTableModel]]:
    """Models made by a test; stopped afterwards so none outlives its queue and loop."""
    made: list[QueueTableModel] = []
    yield made
    for model in made:
        model.shutdown()


async def _model(core: Core, count: int, made: list[QueueTableModel]) -> QueueTableModel:
    if count:
        await core.queue.enqueue_many(
            [
                {
                    "operation_type": "metric_log" if i % 3 else "api_call",
                    "payload": {"run_id": f"run-{i}", "token": "s3cret"},
                    "priority": i % 7,
                }
                for i in range(count)
            ]
        )
    tasks = TaskKeeper()
    model = QueueTableModel(core.queue, tasks)
    core.queue.changes.subscribe(model.apply_change)  # what the window's bridge does
    made.append(model)
    model.reload()
    await until(lambda: not model.is_loading)
    return model


async def test_qtmodeltester_with_pages_and_live_changes(
    core: Core,
    models: list[QueueTableModel],
    qtmodeltester,  # type: ignore[no-untyped-def]
) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": i}} for i in range(120)]
    )
    model = QueueTableModel(core.queue, TaskKeeper())
    model.PAGE_SIZE = 50  # several pages without thousands of rows to re-check each time
    core.queue.changes.subscribe(model.apply_change)
    models.append(model)
    model.reload()
    await until(lambda: not model.is_loading)
    qtmodeltester.check(model, force_py=True)
    while model.canFetchMore(QModelIndex()) or model.is_loading:
        if model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        await until(lambda: not model.is_loading)
    assert model.rowCount() == 120
    new_id = await core.queue.enqueue("model_push", {"path": "/a", "run_id": "r"})
    await until(lambda: model.rowCount() == 121)
    claimed = await core.queue.claim(limit=3)
    await core.queue.mark_completed(claimed[0].id)
    await core.queue.delete_operations([5, 6, 7, 50])
    await until(lambda: model.rowCount() == 117)
    assert model.operation_at(0).id == new_id  # type: ignore[union-attr]
    row = model.row_of(claimed[0].id)
    assert row is not None
    await until(lambda: model.operation_at(row).status is OperationStatus.COMPLETED)  # type: ignore[union-attr]
    model.sort(COLUMN_INDEX["operation_type"], Qt.SortOrder.AscendingOrder)
    # The tester fetches more after the reset, page by page; the order holds across pages.
    await until(lambda: not model.is_loading and model.rowCount() >= 50)
    kinds = [str(model.operation_at(r).operation_type) for r in range(model.rowCount())]  # type: ignore[union-attr]
    assert kinds == sorted(kinds)


async def test_pages_are_read_on_demand(core: Core, models: list[QueueTableModel]) -> None:
    model = await _model(core, 1100, models)
    assert model.rowCount() == 500
    assert model.canFetchMore(QModelIndex())
    assert model.operation_at(0).id == 1100  # type: ignore[union-attr]  # newest first
    while model.canFetchMore(QModelIndex()) or model.is_loading:
        if model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        await until(lambda: not model.is_loading)
    assert model.rowCount() == 1100
    ids = [model.operation_at(r).id for r in range(1100)]  # type: ignore[union-attr]
    assert ids == list(range(1100, 0, -1))
    await until(lambda: model.total == 1100)


async def test_changes_update_rows_in_place_without_reset(
    core: Core, models: list[QueueTableModel]
) -> None:
    model = await _model(core, 30, models)
    spy = _Spy(model)
    # A new operation appears at the top.
    new_id = await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: model.rowCount() == 31)
    assert model.operation_at(0).id == new_id  # type: ignore[union-attr]
    # A claimed and completed operation changes its row.
    claimed = await core.queue.claim(limit=1)
    await core.queue.mark_completed(claimed[0].id)
    row = model.row_of(claimed[0].id)
    assert row is not None
    status = model.index(row, COLUMN_INDEX["status"])
    await until(lambda: model.data(status) == "Completed")
    # Deleted operations leave.
    await core.queue.delete_operations([new_id, 3, 4, 5])
    await until(lambda: model.rowCount() == 27)
    assert model.row_of(new_id) is None and model.row_of(4) is None
    assert spy.resets == 0
    assert spy.inserts >= 1 and spy.removes >= 1 and spy.changes >= 1


async def test_filter_and_live_status_changes(core: Core, models: list[QueueTableModel]) -> None:
    model = await _model(core, 12, models)
    model.set_filter(QueueFilter(statuses=(OperationStatus.PENDING.value,)))
    await until(lambda: not model.is_loading and model.rowCount() == 12)
    claimed = await core.queue.claim(limit=2)
    await until(lambda: model.rowCount() == 10)  # no longer pending: out of this view
    assert all(model.row_of(op.id) is None for op in claimed)
    model.set_filter(QueueFilter(types=("api_call",)))
    await until(lambda: not model.is_loading and model.rowCount() == 4)
    model.set_filter(QueueFilter(search="run-7"))
    await until(lambda: not model.is_loading and model.rowCount() == 1)
    assert '"run_id": "run-7"' in model.operation_at(0).payload_preview(200)  # type: ignore[union-attr]
    await until(lambda: model.total == 1)


async def test_sorting_on_a_column_is_done_by_the_queue(
    core: Core, models: list[QueueTableModel]
) -> None:
    model = await _model(core, 700, models)
    model.sort(COLUMN_INDEX["priority"], Qt.SortOrder.DescendingOrder)
    await until(lambda: not model.is_loading and model.rowCount() == 500)
    priorities = [model.operation_at(r).priority for r in range(500)]  # type: ignore[union-attr]
    assert priorities == sorted(priorities, reverse=True)
    assert priorities[0] == 6
    model.fetchMore(QModelIndex())
    await until(lambda: not model.is_loading and model.rowCount() == 700)
    everything = [model.operation_at(r) for r in range(700)]
    assert len({op.id for op in everything if op}) == 700
    model.sort(COLUMN_INDEX["id"], Qt.SortOrder.AscendingOrder)
    await until(lambda: not model.is_loading and model.rowCount() == 500)
    assert model.operation_at(0).id == 1  # type: ignore[union-attr]


async def test_display_text(core: Core, models: list[QueueTableModel]) -> None:
    model = await _model(core, 1, models)
    values = {key: model.data(model.index(0, column)) for key, column in COLUMN_INDEX.items()}
    assert values["id"] == "1"
    assert values["operation_type"] == "API call"
    assert values["status"] == "Pending"
    assert values["retry_count"] == "0 / 5"
    assert values["next_attempt_at"] == "Due now"
    assert model.data(model.index(0, 0), QueueTableModel.IdRole) == 1
    assert model.headerData(0, Qt.Orientation.Horizontal) == "ID"


async def test_kept_texts_follow_row_changes_and_the_clock(
    core: Core, models: list[QueueTableModel]
) -> None:
    model = await _model(core, 0, models)
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/x"}, not_before=time.time() + 1.5)
    await until(lambda: model.rowCount() == 1)
    next_attempt = model.index(0, COLUMN_INDEX["next_attempt_at"])
    status = model.index(0, COLUMN_INDEX["status"])
    assert model.data(next_attempt) not in ("", "Due now")  # a time of day
    assert model.data(status) == "Pending"
    spy = _Spy(model)
    # No change reaches the model, yet once the time has come the row says so.
    await until(lambda: model.data(next_attempt) == "Due now")
    assert spy.changes == 0
    claimed = await core.queue.claim(limit=1)
    assert [op.id for op in claimed] == [op_id]
    await until(lambda: model.data(status) == "Sending")  # the new row, not its kept text
    assert model.data(next_attempt) == ""


async def test_roles_other_than_shown_ones_are_left_to_the_view(
    core: Core, models: list[QueueTableModel]
) -> None:
    model = await _model(core, 40, models)
    model.TEXT_CACHE_ROWS = 10
    for row in range(40):
        assert model.data(model.index(row, COLUMN_INDEX["id"])) == str(40 - row)
    assert len(model._texts) <= 10  # texts are kept for a few screens only
    priority = model.index(0, COLUMN_INDEX["priority"])
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.data(priority, Qt.ItemDataRole.TextAlignmentRole) == right
    assert model.data(model.index(0, 1), Qt.ItemDataRole.TextAlignmentRole) is None
    assert isinstance(
        model.data(model.index(0, COLUMN_INDEX["status"]), Qt.ItemDataRole.DecorationRole), QIcon
    )
    assert model.data(priority, Qt.ItemDataRole.DecorationRole) is None
    for role in (
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.CheckStateRole,
    ):
        assert model.data(priority, role) is None
    assert model.data(QModelIndex()) is None
    assert model.flags(priority) == Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags


async def test_an_operation_with_nowhere_to_go_needs_a_setting_before_any_sync(
    core: Core, models: list[QueueTableModel]
) -> None:
    """Without an API base URL a relative endpoint cannot go: the row says so from the
    start, not only after a sync found it out; once the setting is there it is due."""
    model = await _model(core, 0, models)
    model.set_targets(Targets())  # the settings name no target
    await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: model.rowCount() == 1)
    next_attempt = model.index(0, COLUMN_INDEX["next_attempt_at"])
    assert model.data(next_attempt) == "needs a setting"
    model.set_targets(Targets(api_base_url="http://127.0.0.1:9/api"))
    assert model.data(next_attempt) == "Due now"
