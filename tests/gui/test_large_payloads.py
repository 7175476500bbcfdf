"""Payloads of any size: the window shows a bounded part of one, and offers the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QPlainTextEdit

from peft_studio_offline.core.masking import mask_secrets
from peft_studio_offline.core.operation import OperationSummary
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.conflicts import SIDE_CHARS, ConflictDialog
from peft_studio_offline.gui.dialogs.inspect import InspectDialog, size_text
from tests.gui.conftest import Core, until


def _payload(items: int, blob: int) -> dict[str, Any]:
    return {
        "url": "https://me:hunter2@example.org/x",
        "headers": {"Authorization": "Bearer sk-live-1234"},
        "blob": "b" * blob,
        "points": [{"key": f"k{i}", "value": i} for i in range(items)],
    }


async def test_the_inspect_view_shows_the_start_of_a_large_payload_and_offers_the_rest(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    payload = _payload(20_000, 300_000)
    op_id = await core.queue.enqueue("api_call", payload)
    await until(lambda: window.model.rowCount() == 1)
    row = window.model.operation_at(0)
    assert isinstance(row, OperationSummary)  # the table holds no payload
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    shown = dialog.payload.toPlainText()
    assert len(shown) < 70_000
    assert max(len(line) for line in shown.split("\n")) <= 4096
    assert "hunter2" not in shown and "sk-live-1234" not in shown
    assert '"url": "https://me:***@example.org/x"' in shown
    size = row.payload_size
    assert dialog.payload_note.text() == (
        f"The payload is {size_text(size)}; only its first "
        f"{size_text(len(shown.encode()))} are shown."
    )
    assert dialog.show_all_button.isEnabled() and dialog.save_button.isEnabled()

    dialog.show_all_button.click()
    assert dialog.showing_all is not None
    await dialog.showing_all
    whole = dialog.payload.toPlainText()
    assert "hunter2" not in whole
    assert whole.count('"key": "k') == 20_000
    assert whole.replace("\n", "").count("b" * 1000) == 300
    assert "The whole payload" in dialog.payload_note.text()

    target = tmp_path / "payload.json"
    task = dialog.save_payload(str(target))
    assert task is not None
    await task
    assert json.loads(target.read_text()) == mask_secrets(payload)
    assert dialog.payload_note.text() == f"Saved to {target}."
    assert await core.queue.get_operation(op_id) is not None
    dialog.close()


async def test_a_small_payload_is_shown_whole_at_once(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/a", "data": {"password": "p"}})
    await until(lambda: window.model.rowCount() == 1)
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    assert json.loads(dialog.payload.toPlainText()) == {
        "endpoint": "/a",
        "data": {"password": "***"},
    }
    assert dialog.payload_note.text().startswith("The whole payload (")
    assert not dialog.show_all_button.isEnabled()
    dialog.close()


async def test_a_table_search_follows_changes_without_reading_payloads(
    core: Core, window: MainWindow
) -> None:
    from peft_studio_offline.gui.queue_model import QueueFilter

    big = await core.queue.enqueue("api_call", _payload(5_000, 0) | {"tag": "needle"})
    other = await core.queue.enqueue("api_call", {"tag": "hay"})
    window.model.set_filter(QueueFilter(search="needle"))
    await until(lambda: not window.model.is_loading and window.model.rowCount() == 1)
    await core.queue.set_priority(big, 5)
    await core.queue.set_priority(other, 5)
    await until(lambda: window.model.operation_at(0).priority == 5)  # type: ignore[union-attr]
    assert window.model.row_of(other) is None
    assert len(window.model.operation_at(0).payload_head) <= 4 * 4096  # type: ignore[union-attr]


async def test_the_conflict_dialog_bounds_large_sides(core: Core, window: MainWindow) -> None:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/r", "method": "PUT"})
    [claimed] = await core.queue.claim(limit=1)
    remote = {"items": [{"n": i, "token": f"t{i}"} for i in range(60_000)]}
    await core.queue.mark_conflict(claimed.id, local={"a": 1}, remote=remote, base=None)
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await until(lambda: dialog.list.count() == 1)
    shown = dialog.findChild(QPlainTextEdit, "conflictRemote")
    assert shown is not None
    text = shown.toPlainText()
    assert len(text) <= SIDE_CHARS + 10 and '"token": "***"' in text and "t5" not in text
    assert op_id == claimed.id
    dialog.close()


async def test_the_export_writes_every_payload_whole_and_masked(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    payloads = [_payload(30_000, 1000), {"n": 10**30, "password": "pw"}, {"empty": {}}]
    ids = [await core.queue.enqueue("api_call", p) for p in payloads]
    target = tmp_path / "export.json"
    task = window.commands.export(target, window.model.queue_filter.query())
    assert task is not None
    await task
    exported = json.loads(target.read_text())
    assert [item["id"] for item in exported] == ids
    assert [item["payload"] for item in exported] == [mask_secrets(p) for p in payloads]
    operation = await core.queue.get_operation(ids[1])
    assert operation is not None
    expected = operation.to_dict() | {"payload": mask_secrets(payloads[1])}
    assert {k: v for k, v in exported[1].items() if k in expected} == expected
    assert not (tmp_path / "export.json.part").exists()
