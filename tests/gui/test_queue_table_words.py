"""The queue table says what each operation is (from its payload's start, masked), where it
goes, and why it waits; the endpoints list of the details panel stays readable."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from peft_studio_offline.core import describe
from peft_studio_offline.core.describe import Targets
from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.waiting import Moment
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.details_panel import OfflineDetails
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from peft_studio_offline.gui.queue_model import COLUMN_INDEX, QueueFilter, QueueTableModel
from peft_studio_offline.gui.tasks import TaskKeeper
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer, Reply

TARGETS = Targets(
    api_base_url="http://api.example.com:8080/base",
    mlflow_tracking_uri="http://mlflow.example.com:5000",
)


@pytest.fixture
def models() -> Iterator[list[QueueTableModel]]:
    made: list[QueueTableModel] = []
    yield made
    for model in made:
        model.shutdown()


async def _table(core: Core, made: list[QueueTableModel], page: int = 500) -> QueueTableModel:
    model = QueueTableModel(core.queue, TaskKeeper())
    model.PAGE_SIZE = page
    model.set_targets(TARGETS)
    core.queue.changes.subscribe(model.apply_change)
    made.append(model)
    model.reload()
    await until(lambda: model.first_page_loaded and not model.is_loading)
    return model


def _cell(
    model: QueueTableModel, row: int, key: str, role: int = Qt.ItemDataRole.DisplayRole
) -> Any:
    return model.data(model.index(row, COLUMN_INDEX[key]), role)


def _row_of(model: QueueTableModel, op_id: int) -> int:
    row = model.row_of(op_id)
    assert row is not None
    return row


TYPICAL = [
    (
        "metric_log",
        {"run_id": "run-42", "metrics": {"loss": 0.31, "accuracy": 0.9}, "step": 10},
        "run-42 · loss 0.31 +1 @ step 10",
        "mlflow.example.com:5000",
    ),
    (
        "metric_log",
        {"run_id": "run-7", "metrics": [{"key": "loss", "value": 0.5, "step": 3}]},
        "run-7 · loss 0.5 @ step 3",
        "mlflow.example.com:5000",
    ),
    (  # MLflow's own run ids are named by their start, so what was logged stays in view
        "metric_log",
        {"run_id": "9256f61bc81047568831bb0baf6a1f2e", "metrics": {"loss": 0.05}, "step": 20},
        "9256f61b… · loss 0.05 @ step 20",
        "mlflow.example.com:5000",
    ),
    ("api_call", {"method": "post", "endpoint": "/api/models"}, "POST /api/models",
     "api.example.com:8080"),
    ("api_call", {"url": "https://hub.example.org/v1/runs?page=2"}, "GET /v1/runs",
     "hub.example.org"),
    (
        "api_call",
        {"method": "PUT", "url": "https://me:hush@api.a-long-host-name.example.com/api/models/7"},
        "PUT /api/models/7",
        "api.a-long-host-name.example.com",
    ),
    (
        "file_upload",
        {"path": "/data/out/eval.json", "url": "https://files.example.com/upload"},
        "eval.json → files.example.com",
        "files.example.com",
    ),
    ("model_push", {"path": "/out/adapter", "run_id": "run-42"}, "adapter → run-42",
     "mlflow.example.com:5000"),
    (
        "model_push",
        {"target": "huggingface", "repo_id": "tester/my-lora", "path": "/out/adapter/"},
        "adapter → tester/my-lora",
        "huggingface.co",
    ),
    (
        "experiment_sync",
        {"run_id": "run-42", "tags": {"team": "nlp", "stage": "eval"}, "note": "Baseline"},
        "run-42 · 2 tags, note",
        "mlflow.example.com:5000",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "payload", "what", "host"), TYPICAL)
async def test_each_type_says_what_it_is_and_where_it_goes(
    core: Core, models: list[QueueTableModel], kind: str, payload: dict[str, Any], what: str,
    host: str,
) -> None:  # fmt: skip
    op_id = await core.queue.enqueue(kind, payload)
    model = await _table(core, models)
    row = _row_of(model, op_id)
    assert _cell(model, row, "what") == what
    assert _cell(model, row, "host") == host
    assert model.headerData(COLUMN_INDEX["what"], Qt.Orientation.Horizontal) == "What"
    assert COLUMN_INDEX["what"] == COLUMN_INDEX["id"] + 1


SECRET = "s3cr3t-VALUE"
ODD = [
    ("metric_log", {}),  # no keys at all
    ("metric_log", {"run_id": "r", "metrics": "not a mapping", "step": "x"}),
    ("metric_log", {"run_id": "r" * 5000, "metrics": {f"m{i}": i for i in range(5000)}}),
    ("metric_log", {"run_id": "r", "metrics": {"api_token": SECRET, "loss": 1.0}}),
    ("api_call", {"url": f"https://user:{SECRET}@api.example.com/x?token={SECRET}"}),
    ("api_call", {"endpoint": f"/x?api_key={SECRET}#{SECRET}", "method": "delete"}),
    ("api_call", {"endpoint": {"nested": True}, "headers": {"Authorization": SECRET}}),
    ("file_upload", {"path": "", "url": f"ftp://u:{SECRET}@files.example.com/"}),
    ("model_push", {"run_id": f"https://u:{SECRET}@mlflow.example.com/run"}),
    ("experiment_sync", {"run_id": "run-1", "tags": {f"t{i}": "v" * 900 for i in range(40)}}),
    ("api_call", {"endpoint": "/big", "data": {"blob": "x" * 3_000_000}}),
]


@pytest.mark.parametrize(("kind", "payload"), ODD)
async def test_odd_payloads_give_short_masked_words(
    core: Core, models: list[QueueTableModel], kind: str, payload: dict[str, Any]
) -> None:
    op_id = await core.queue.enqueue(kind, payload)
    model = await _table(core, models)
    row = _row_of(model, op_id)
    what = _cell(model, row, "what")
    assert isinstance(what, str) and what
    assert len(what) <= describe.TEXT_CHARS
    assert SECRET not in what
    assert SECRET not in (_cell(model, row, "host") or "")
    assert SECRET not in (_cell(model, row, "what", Qt.ItemDataRole.ToolTipRole) or "")


async def test_the_words_are_made_once_per_row(
    core: Core, models: list[QueueTableModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "metric_log", "payload": {"run_id": f"run-{i}"}} for i in range(50)]
    )
    calls: list[int] = []
    real = describe.describe_operation

    def counted(summary: Any, targets: Any = None) -> describe.Description:
        calls.append(summary.id)
        return real(summary, targets)

    monkeypatch.setattr("peft_studio_offline.gui.queue_model.describe_operation", counted)
    model = await _table(core, models)
    for _ in range(3):  # three paints of every cell
        for row in range(model.rowCount()):
            for column in range(model.columnCount()):
                model.data(model.index(row, column))
    assert sorted(calls) == sorted({*calls}) and len(calls) == 50


async def test_the_words_can_be_searched(core: Core, models: list[QueueTableModel]) -> None:
    await core.queue.enqueue("metric_log", {"run_id": "run-42", "metrics": {"loss": 1}})
    await core.queue.enqueue("metric_log", {"run_id": "run-43", "metrics": {"loss": 1}})
    wanted = await core.queue.enqueue("api_call", {"method": "POST", "endpoint": "/api/models"})
    model = await _table(core, models)
    model.set_filter(QueueFilter(search="/api/models"))
    await until(lambda: model.first_page_loaded and not model.is_loading)
    assert [model.operation_at(r).id for r in range(model.rowCount())] == [wanted]  # type: ignore[union-attr]
    model.set_filter(QueueFilter(search="run-42"))
    await until(lambda: not model.is_loading and model.rowCount() == 1)
    assert _cell(model, 0, "what").startswith("run-42 ·")


async def test_host_column_sorts_over_every_page(core: Core, models: list[QueueTableModel]) -> None:
    hosts = ["c.example.com", "a.example.com", "b.example.com"]
    await core.queue.enqueue_many(
        [
            {"operation_type": "api_call", "payload": {"url": f"https://{hosts[i % 3]}/n/{i}"}}
            for i in range(30)
        ]
    )
    model = await _table(core, models, page=8)
    assert model.rowCount() == 8
    model.sort(COLUMN_INDEX["host"], Qt.SortOrder.AscendingOrder)
    await until(lambda: model.rowCount() == 30 and _cell(model, 0, "host") == "a.example.com")
    shown = [_cell(model, r, "host") for r in range(30)]
    assert shown == sorted(shown)
    ids = [model.operation_at(r).id for r in range(10)]  # type: ignore[union-attr]
    assert ids == sorted(ids)  # same host: by id
    # Words are not sorted on: the order stays.
    model.sort(COLUMN_INDEX["what"], Qt.SortOrder.AscendingOrder)
    assert model.sort_key == ("host", False)


async def test_next_attempt_says_why_it_waits(core: Core, models: list[QueueTableModel]) -> None:
    due = await core.queue.enqueue("api_call", {"endpoint": "/due"})
    first = await core.queue.enqueue("api_call", {"endpoint": "/first"})
    after = await core.queue.enqueue("api_call", {"endpoint": "/after"}, depends_on=[first])
    setting = await core.queue.enqueue("metric_log", {"run_id": "run-1", "metrics": {"a": 1}})
    await core.queue.mark_waiting(
        setting,
        "Waiting for an MLflow tracking server: set sync.mlflow_tracking_uri.",
        "sync.mlflow_tracking_uri",
    )
    backoff = await core.queue.enqueue("api_call", {"url": "https://slow.example.com/x"})
    await core.queue.mark_failed(backoff, "HTTP 503", retry_after=3600)
    paused = await core.queue.enqueue("api_call", {"url": "https://down.example.com/x"})
    model = await _table(core, models)

    def words(op_id: int) -> str:
        return str(_cell(model, _row_of(model, op_id), "next_attempt_at"))

    assert words(due) == "Due now"
    assert words(after) == f"after #{first}"
    assert words(setting) == "needs a setting"
    assert "sync.mlflow_tracking_uri" in _cell(
        model, _row_of(model, setting), "next_attempt_at", Qt.ItemDataRole.ToolTipRole
    )
    assert words(backoff) not in ("", "Due now") and ":" in words(backoff)
    assert words(paused) == "Due now"

    until_ = time.time() + 600
    model.set_moment(Moment(online=True, paused_hosts={"down.example.com": until_}))
    assert words(paused).startswith("host paused until ")
    assert words(due) == "Due now"

    model.set_moment(Moment(online=False))
    assert words(due) == "when online"
    assert words(backoff) == "when online"
    assert words(after) == f"after #{first}"  # still the truer reason

    # The dependency completes: the row is read again and waits no more.
    model.set_moment(Moment(online=True))
    await core.queue.mark_completed(first)
    await until(lambda: words(after) == "Due now")


@pytest.fixture
def health() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, "ok")) as server:
        yield server


async def test_window_follows_the_network_and_paused_hosts(
    core: Core, window: MainWindow, health: HttpServer
) -> None:
    monitor = NetworkMonitor(
        endpoints=[health.url("/health")], check_interval=60, failure_threshold=1,
        backoff_initial=0.05, timeout=2,
    )  # fmt: skip
    # One monitor for the engine and the window, as the app has.
    window.bridge.monitor = core.engine.monitor = monitor
    monitor.add_callback(window.bridge._on_network_change)
    op_id = await core.queue.enqueue("api_call", {"url": "https://down.example.com/x"})
    await until(lambda: window.model.row_of(op_id) is not None)
    row = _row_of(window.model, op_id)
    assert _cell(window.model, row, "next_attempt_at") == "Due now"
    health.stop()
    await monitor.check_connectivity()
    assert monitor.status is NetworkStatus.OFFLINE
    await until(lambda: _cell(window.model, row, "next_attempt_at") == "when online")
    # The inspect view gives the same reason, as a sentence.
    dialog = window.open_inspect(row)
    assert isinstance(dialog, InspectDialog)
    await until(lambda: dialog.wait_reason.text().startswith("Offline:"))
    dialog.close()
    health.start()
    await monitor.check_connectivity()
    await until(lambda: _cell(window.model, row, "next_attempt_at") == "Due now")
    breaker = core.engine.breaker
    for _ in range(breaker.threshold):
        breaker.record_failure("down.example.com")
    window._refresh_indicator()  # as after a sync run
    assert str(_cell(window.model, row, "next_attempt_at")).startswith("host paused until")
    dialog = window.open_inspect(row)
    assert isinstance(dialog, InspectDialog)
    await until(lambda: "down.example.com is paused" in dialog.wait_reason.text())
    dialog.close()


async def test_details_endpoints_stay_readable(window: MainWindow) -> None:
    window.open_details()
    details = window._details
    assert isinstance(details, OfflineDetails)
    url = "https://mlflow.internal.example.com:5000/api/2.0/mlflow/experiments/health-check"
    details.show_network(
        {
            "endpoints": [
                {"url": url, "ok": False, "error": "ConnectError: " + "refused " * 40},
                {"url": "https://a.example.com/", "ok": True, "latency_ms": 12.0},
            ]
        }
    )
    tree = details.endpoints
    assert tree.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert url in tree.topLevelItem(0).toolTip(0)
    header = tree.header()
    # A long error does not take the endpoint's room.
    assert header.sectionSize(1) <= tree.viewport().width() // 3 + 1
    assert header.sectionSize(0) >= tree.viewport().width() // 3
    details.close()


async def test_group_by_run_counts_follow_changes(core: Core, window: MainWindow) -> None:
    first = await core.queue.enqueue_many(
        [
            {"operation_type": "metric_log", "payload": {"run_id": "run-42", "metrics": {"a": i}}}
            for i in range(3)
        ]
    )
    await core.queue.enqueue("model_push", {"path": "/out/adapter", "run_id": "run-42"})
    await core.queue.enqueue(
        "model_push", {"target": "huggingface", "repo_id": "tester/my-lora", "path": "/o/a"}
    )
    await core.queue.enqueue("metric_log", {"run_id": "run-7", "metrics": {"a": 1}})
    # A large payload is stored compressed: still counted with its run.
    await core.queue.enqueue(
        "metric_log", {"run_id": "run-7", "metrics": {f"m{i}": i for i in range(20000)}}
    )
    await core.queue.enqueue("api_call", {"endpoint": "/not/a/run"})
    groups = window.run_groups
    window.group_by_run.trigger()
    assert window.pages.currentWidget() is groups
    await until(lambda: set(groups.row_texts()) == {"run-42", "tester/my-lora", "run-7"})
    rows = groups.row_texts()
    assert rows["run-42"][:2] == ["4 to send", "4"]
    assert rows["run-7"][1] == "2"
    # Live: the run is delivered as its operations complete.
    for op_id in [*first, first[-1] + 1]:
        await core.queue.mark_completed(op_id)
    await until(lambda: groups.row_texts()["run-42"][0] == "Fully delivered")
    assert groups.row_texts()["run-42"][1:4] == ["4", "0", "0"]
    bad = await core.queue.enqueue("experiment_sync", {"run_id": "run-42", "tags": {"a": "b"}})
    await core.queue.mark_failed(bad, "HTTP 400", permanent=True)
    await until(lambda: groups.row_texts()["run-42"][0] == "1 failed")
    # A group opens its operations in the table.
    item = groups.findItems("run-7", Qt.MatchFlag.MatchExactly)[0]
    groups.itemActivated.emit(item, 0)
    assert window.pages.currentWidget() is window.view
    assert not window.group_by_run.isChecked()
    assert window.filter_bar.search.text() == "run-7"
    # The search reads payload text: the compressed one is not found by it.
    await until(lambda: window.model.total == 1 and not window.model.is_loading)


async def test_the_what_header_does_not_claim_a_sort(window: MainWindow) -> None:
    header = window.view.horizontalHeader()
    header.setSortIndicator(COLUMN_INDEX["host"], Qt.SortOrder.AscendingOrder)
    assert window.model.sort_key == ("host", False)
    header.setSortIndicator(COLUMN_INDEX["what"], Qt.SortOrder.DescendingOrder)
    assert header.sortIndicatorSection() == COLUMN_INDEX["host"]
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert window.model.sort_key == ("host", False)
    await until(lambda: not window.model.is_loading)


async def test_settings_that_name_the_target_reach_the_table_and_inspect_at_once(
    core: Core, window: MainWindow
) -> None:
    """Automatic sync off: nothing is sent, yet the row stops saying it needs a setting."""
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/things", "method": "GET"})
    await until(lambda: window.model.row_of(op_id) is not None)
    window.bridge.settings_applied.emit()  # the window learns the engine's targets

    def words() -> str:
        return str(_cell(window.model, _row_of(window.model, op_id), "next_attempt_at"))

    await until(lambda: words() == "needs a setting")
    assert "Needs a setting" in str(await core.engine.wait_reason(op_id))
    settings = core.engine.settings
    await core.engine.apply_settings(
        dataclasses.replace(
            settings,
            sync=dataclasses.replace(settings.sync, api_base_url="http://127.0.0.1:9/api"),
        )
    )
    await until(lambda: words() == "Due now")
    assert _cell(window.model, _row_of(window.model, op_id), "host") == "127.0.0.1:9"
    assert await core.engine.wait_reason(op_id) == "Ready: waiting for the next sync."
    dialog = window.open_inspect(_row_of(window.model, op_id))
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    assert dialog.wait_reason.text() == "Ready: waiting for the next sync."
    dialog.close()
