"""Conflicts, inspect, add operation, priority, settings, about and shortcuts dialogs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
)

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from peft_studio_offline.gui.dialogs.settings_dialog import SettingsDialog
from tests.gui.conftest import Core, until


async def _conflicts(core: Core, count: int) -> list[int]:
    ids = await core.queue.enqueue_many(
        [
            {
                "operation_type": "api_call",
                "payload": {
                    "endpoint": f"/runs/{i}",
                    "method": "PUT",
                    "data": {"stage": "evaluated", "owner": "ana"},
                },
            }
            for i in range(count)
        ]
    )
    for op in await core.queue.claim(limit=count):
        await core.queue.mark_conflict(
            op.id,
            local={"stage": "evaluated", "owner": "ana"},
            remote={"stage": "archived", "owner": "ana", "reviewer": "li"},
            base={"stage": "training", "owner": "ana"},
            remote_version='"v7"',
        )
    return ids


async def test_conflict_dialog_keep_theirs_and_merge(core: Core, window: MainWindow) -> None:
    ids = await _conflicts(core, 2)
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await until(lambda: dialog.list.count() == 2)
    local = dialog.findChild(QPlainTextEdit, "conflictLocal")
    remote = dialog.findChild(QPlainTextEdit, "conflictRemote")
    assert local is not None and remote is not None
    assert json.loads(local.toPlainText())["stage"] == "evaluated"
    assert json.loads(remote.toPlainText())["stage"] == "archived"
    assert "Yours" in dialog.local_label.text() and "Theirs" in dialog.remote_label.text()
    assert "v7" in dialog.remote_label.text()
    # The suggested merge: both changed "stage" (theirs is kept), theirs added a reviewer.
    assert json.loads(dialog.merged.toPlainText())["reviewer"] == "li"

    dialog.keep_theirs.click()
    await until(lambda: dialog.list.count() == 1)
    first = await core.queue.get_operation(ids[0])
    assert first is not None and first.status is OperationStatus.COMPLETED

    dialog.merged.setPlainText("{not json")
    dialog.merge.click()
    error = dialog.findChild(QLabel, "conflictError")
    assert error is not None and "not valid JSON" in error.text() and not error.isHidden()
    dialog.merged.setPlainText(json.dumps({"stage": "evaluated", "owner": "li"}))
    dialog.merge.click()
    await until(lambda: dialog.list.count() == 0)
    second = await core.queue.get_operation(ids[1])
    assert second is not None and second.status is OperationStatus.PENDING
    assert second.payload["data"] == {"stage": "evaluated", "owner": "li"}
    assert "No conflicts" in dialog.summary.text()
    dialog.close()


async def test_conflict_dialog_apply_to_all_remaining(core: Core, window: MainWindow) -> None:
    ids = await _conflicts(core, 3)
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await until(lambda: dialog.list.count() == 3)
    dialog.apply_all.setChecked(True)
    dialog.keep_mine.click()
    await until(lambda: dialog.list.count() == 0)
    for op_id in ids:
        op = await core.queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.PENDING
    await until(lambda: window.indicator.state.conflicts == 0)  # type: ignore[union-attr]
    dialog.close()


async def test_inspect_masks_secrets_and_explains_the_wait(core: Core, window: MainWindow) -> None:
    first = await core.queue.enqueue("api_call", {"url": "http://127.0.0.1:9/a"})
    second = await core.queue.enqueue(
        "api_call",
        {
            "url": "http://127.0.0.1:9/models",
            "headers": {"Authorization": "Bearer sk-live-1234"},
            "data": {"password": "hunter2", "name": "adapter"},
        },
        depends_on=[first],
    )
    await until(lambda: window.model.rowCount() == 2)
    dialog = window.open_inspect(window.model.row_of(second))  # type: ignore[arg-type]
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    text = dialog.payload.toPlainText()
    assert "sk-live-1234" not in text and "hunter2" not in text
    assert '"name": "adapter"' in text and "***" in text
    op = await core.queue.get_operation(second)
    assert op is not None and dialog.key.text() == op.idempotency_key
    assert dialog.dependencies.text() == f"#{first}"
    assert dialog.wait_reason.text() == f"Waiting for operation {first} (pending)."
    dialog.close()

    claimed = await core.queue.claim(limit=1)
    await core.queue.mark_failed(claimed[0].id, "HTTP 503", retry_after=600)
    await until(lambda: window.model.operation_at(1).retry_count == 1)  # type: ignore[union-attr]
    dialog = window.open_inspect(1)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    assert dialog.wait_reason.text().startswith("Retry at ")
    assert dialog.history.topLevelItemCount() == 1
    assert dialog.history.topLevelItem(0).text(3) == "HTTP 503"
    dialog.close()


async def test_add_operation_validates_then_queues(core: Core, window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.METRIC_LOG)
    dialog.submit()  # what is required is the core's submit path's to say
    await until(lambda: dialog.buttons.isEnabled() and not dialog.error.isHidden())
    assert dialog.error.text() == "The payload needs 'run_id', the MLflow run's id."
    form.set_value("run_id", "run-1")
    form.set_value("metrics", "[1, 2]")
    dialog.submit()
    assert dialog.error.text() == 'Metrics must be a JSON object: {"key": value}.'
    form.set_value("metrics", '{"loss": 0.5}')
    form.set_value("step", "3")
    dialog.priority.setValue(4)
    dialog.submit()
    await until(lambda: dialog.added_id is not None)
    op = await core.queue.get_operation(dialog.added_id)  # type: ignore[arg-type]
    assert op is not None and op.priority == 4
    # Prepared by the core's submit path like every way in: each point's time fixed now.
    [point] = op.payload["metrics"]
    assert op.payload == {"run_id": "run-1", "metrics": [point]}
    assert point == {"key": "loss", "value": 0.5, "timestamp": point["timestamp"], "step": 3}
    assert abs(point["timestamp"] / 1000 - op.created_at.timestamp()) < 60
    await until(lambda: window.model.rowCount() == 1)


async def test_add_operation_offers_a_push_to_the_hugging_face_hub(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.MODEL_PUSH)
    assert not form.rows.isRowVisible(form.inputs["repo_id"])
    form.set_value("target", "huggingface")
    assert form.rows.isRowVisible(form.inputs["repo_id"])
    assert not form.rows.isRowVisible(form.inputs["run_id"])
    form.set_value("path", str(adapter))
    dialog.submit()
    await until(lambda: dialog.buttons.isEnabled() and not dialog.error.isHidden())
    assert "needs 'repo_id'" in dialog.error.text()  # not the MLflow run id
    form.set_value("repo_id", "me/lora")
    form.set_value("private", "yes")
    form.set_value("ignore_patterns", "*.md, *.txt")
    dialog.submit()
    await until(lambda: dialog.added_id is not None)
    op = await core.queue.get_operation(dialog.added_id)  # type: ignore[arg-type]
    assert op is not None
    assert op.payload == {
        "target": "huggingface",
        "path": str(adapter),
        "repo_id": "me/lora",
        "private": True,
        "ignore_patterns": ["*.md", "*.txt"],
        "revision": "main",
        "commit_message": "Upload adapter",
        "create_repo": True,
        "path_in_repo": "",
    }


async def test_a_core_error_is_shown_not_raised(core: Core, window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.API_CALL)
    form.set_value("endpoint", "/x")
    await core.queue.close()  # the queue refuses from now on, as a full disk would
    dialog.submit()
    await until(lambda: not dialog.error.isHidden())
    assert "closed" in dialog.error.text()
    assert dialog.isVisible()
    dialog.close()
    window.actions_.retry_failed.trigger()
    await until(lambda: getattr(window, "error_box", None) is not None)
    assert "closed" in window.error_box.text()


async def test_change_priority_of_the_selection(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": i}} for i in range(3)]
    )
    await until(lambda: window.model.rowCount() == 3)
    window.view.selectAll()
    dialog = window.ask_priority()
    assert isinstance(dialog, QInputDialog)
    dialog.setIntValue(9)
    dialog.accept()
    await until(lambda: all(window.model.operation_at(r).priority == 9 for r in range(3)))  # type: ignore[union-attr]


async def test_settings_are_saved_to_the_file(window: MainWindow) -> None:
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    base = dialog.findChild(QLineEdit, "setting_sync_api_base_url")
    assert base is not None
    base.setText("not a url")
    dialog.submit()
    assert "sync.api_base_url" in dialog.error.text()
    base.setText("http://127.0.0.1:9000/api")
    strategy = dialog.fields["sync.conflict_strategy"]
    strategy.setCurrentIndex(strategy.findData(ConflictResolution.MERGE.value))  # type: ignore[attr-defined]
    saved_signals: list[bool] = []
    dialog.saved.connect(lambda: saved_signals.append(True))
    dialog.submit()
    await until(lambda: saved_signals)
    saved = tomllib.loads(window.paths.settings_file.read_text())
    assert saved["sync"]["api_base_url"] == "http://127.0.0.1:9000/api"
    assert saved["sync"]["conflict_strategy"] == "merge"


async def test_about_and_shortcuts(window: MainWindow) -> None:
    about = window.open_about()
    assert "PySide6" in about.informativeText()  # type: ignore[attr-defined]
    about.close()
    shortcuts = window.open_shortcuts()
    listed = {
        shortcuts.tree.topLevelItem(i).text(0): shortcuts.tree.topLevelItem(i).text(1)  # type: ignore[attr-defined]
        for i in range(shortcuts.tree.topLevelItemCount())  # type: ignore[attr-defined]
    }
    assert listed["Sync Now"] == "F5" and listed["Quit"] == "Ctrl+Q"
    assert listed["Delete Selected"] == "Del"
    shortcuts.close()


async def test_settings_keep_endpoint_details_and_lock_environment_keys(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    window.paths.settings_file.write_text(
        '[[network.endpoints]]\nurl = "http://127.0.0.1:9/health"\nexpected_body = "ok"\n'
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    mlflow = dialog.fields["sync.mlflow_tracking_uri"]
    assert not mlflow.isEnabled() and "MLFLOW_TRACKING_URI" in mlflow.toolTip()
    endpoints = dialog.fields["network.endpoints"]
    assert isinstance(endpoints, QPlainTextEdit)
    endpoints.setPlainText("http://127.0.0.1:9/health\nhttp://127.0.0.1:10/ping")
    saved: list[bool] = []
    dialog.saved.connect(lambda: saved.append(True))
    dialog.submit()
    await until(lambda: saved)
    data = tomllib.loads(window.paths.settings_file.read_text())
    assert data["network"]["endpoints"] == [
        {"url": "http://127.0.0.1:9/health", "expected_body": "ok"},
        "http://127.0.0.1:10/ping",
    ]
    assert "mlflow_tracking_uri" not in data.get("sync", {})


async def test_add_upload_checks_the_file_exists(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.FILE_UPLOAD)
    form.set_value("path", str(tmp_path / "missing.bin"))
    form.set_value("url", "ftp://example")
    dialog.submit()  # the core's submit path decides, with its own sentences
    await until(
        lambda: dialog.error.text() == "The url 'ftp://example' is not an http:// or https:// URL."
    )
    form.set_value("url", "http://127.0.0.1:9/upload")
    dialog.submit()
    missing = (tmp_path / "missing.bin").resolve()
    await until(
        lambda: (
            dialog.error.text() == f"The file {missing} does not exist or is not a regular file."
        )
    )
    (tmp_path / "weights.bin").write_bytes(b"x")
    form.set_value("path", str(tmp_path / "weights.bin"))
    dialog.submit()
    await until(lambda: dialog.added_id is not None)
    op = await core.queue.get_operation(dialog.added_id)  # type: ignore[arg-type]
    assert op is not None and op.payload["path"] == str(tmp_path / "weights.bin")


async def test_tokens_go_to_the_credential_store_not_the_settings(window: MainWindow) -> None:
    from peft_studio_offline.core.credentials import CredentialStore
    from peft_studio_offline.core.settings import Settings

    window.paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    window.paths.settings_file.write_text('[credentials]\nstore = "file"\n')
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    name = dialog.fields["credentials.api_token"]
    assert isinstance(name, QLineEdit)
    dialog.api_secret.setText("tok-123")
    dialog.submit()
    assert "name" in dialog.error.text()  # a secret needs a name to be kept under
    name.setText("team-api")
    saved: list[bool] = []
    dialog.saved.connect(lambda: saved.append(True))
    dialog.submit()
    await until(lambda: saved)
    text = window.paths.settings_file.read_text()
    assert "team-api" in text and "tok-123" not in text
    store = CredentialStore.from_settings(Settings.load(window.paths))
    assert store.get("team-api") == "tok-123"
    # The Hub's token the same way, under the name credentials.huggingface_token gives.
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    hub_name = dialog.fields["credentials.huggingface_token"]
    assert isinstance(hub_name, QLineEdit)
    hub_name.setText("hub-write")
    dialog.hub_secret.setText("hf_secret_9")
    dialog.saved.connect(lambda: saved.append(True))
    dialog.submit()
    await until(lambda: len(saved) == 2)
    text = window.paths.settings_file.read_text()
    assert "hub-write" in text and "hf_secret_9" not in text
    assert Settings.load(window.paths).credentials.huggingface_token == "hub-write"
    assert CredentialStore.from_settings(Settings.load(window.paths)).get("hub-write") == (
        "hf_secret_9"
    )


async def test_the_upload_folders_are_set_in_the_settings(
    window: MainWindow, tmp_path: Path
) -> None:
    """Over the local API nothing is sent from a file until a folder is allowed: the window
    must be able to allow one."""
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    field = dialog.fields["sync.upload_roots"]
    assert isinstance(field, QPlainTextEdit)
    field.setPlainText(f"{tmp_path / 'runs'}\n\n{tmp_path / 'adapters'}\n")
    saved_signals: list[bool] = []
    dialog.saved.connect(lambda: saved_signals.append(True))
    dialog.submit()
    await until(lambda: saved_signals)
    saved = tomllib.loads(window.paths.settings_file.read_text())
    assert saved["sync"]["upload_roots"] == [str(tmp_path / "runs"), str(tmp_path / "adapters")]


async def test_keep_mine_is_not_offered_where_the_service_cannot_take_it(
    core: Core, window: MainWindow
) -> None:
    """An MLflow param conflict: the server's param never changes, so only theirs or a merge."""
    api_ids = await _conflicts(core, 1)
    param_op = await core.queue.enqueue(
        "metric_log", {"run_id": "r1", "params": {"lr": "0.5"}, "metrics": []}
    )
    (claimed,) = await core.queue.claim(1, operation_types=["metric_log"])
    await core.queue.mark_conflict(
        claimed.id, local={"params": {"lr": "0.5"}}, remote={"params": {"lr": "0.1"}}
    )
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await until(lambda: dialog.list.count() == 2)
    rows = {dialog._conflicts[row][0].id: row for row in range(2)}
    dialog.list.setCurrentRow(rows[param_op])
    assert not dialog.keep_mine.isEnabled()
    assert "params never change" in dialog.keep_mine.toolTip()
    assert dialog.keep_theirs.isEnabled() and dialog.merge.isEnabled()
    dialog.list.setCurrentRow(rows[api_ids[0]])
    assert dialog.keep_mine.isEnabled()
    dialog.close()


async def test_the_storage_budget_and_retention_are_set_in_the_settings(
    window: MainWindow,
) -> None:
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    budget = dialog.fields["storage.max_bytes"]
    assert isinstance(budget, QDoubleSpinBox)
    assert budget.value() == 0 and budget.text() == "Automatic"
    budget.setValue(512)
    kept = dialog.fields["storage.retention_days"]
    assert isinstance(kept, QDoubleSpinBox) and kept.value() == 7.0
    kept.setValue(3.0)
    saved_signals: list[bool] = []
    dialog.saved.connect(lambda: saved_signals.append(True))
    dialog.submit()
    await until(lambda: saved_signals)
    saved = tomllib.loads(window.paths.settings_file.read_text())
    assert saved["storage"] == {"max_bytes": 512 * 1024 * 1024, "retention_days": 3.0}


async def test_a_storage_budget_in_bytes_shows_as_it_is_and_stays_exact(
    window: MainWindow,
) -> None:
    """2,000,000 bytes is not "1 MiB", and 120,000 is not "Automatic"."""
    for given, shown in ((2_000_000, "1.91 MiB"), (120_000, "0.11 MiB")):
        window.paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
        window.paths.settings_file.write_text(f"[storage]\nmax_bytes = {given}\n")
        dialog = window.open_settings()
        assert isinstance(dialog, SettingsDialog)
        budget = dialog.fields["storage.max_bytes"]
        assert isinstance(budget, QDoubleSpinBox)
        assert budget.text() == shown
        assert dialog.value("storage.max_bytes") == given  # saved unchanged, exact
        dialog.close()
