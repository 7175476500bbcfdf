"""The window masks free text too: errors, history, the table, its filter and the export."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from peft_studio_offline.gui.queue_model import COLUMN_INDEX
from tests.gui.conftest import Core, until

KEY = "payload-key-5d6e7f"
BEARER = "bearer-value-8a9b0c"
# As a server that echoes the request (or a version that did not mask) left it.
ECHOED = f"The server answered 400: you sent Authorization: Bearer {BEARER} and key {KEY}"


async def test_an_echoed_error_is_masked_in_the_table_the_dialog_and_the_export(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    op_id = await core.queue.enqueue(
        "api_call", {"endpoint": "/m", "method": "POST", "headers": {"X-Api-Key": KEY}}
    )
    claimed = await core.queue.claim(limit=1)
    await core.queue.mark_failed(claimed[0].id, ECHOED, details={"echo": f"token={BEARER}"})
    await until(lambda: getattr(window.model.operation_at(0), "retry_count", 0) == 1)
    cell = window.model.index(0, COLUMN_INDEX["error_message"])
    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
        shown = str(window.model.data(cell, int(role))).replace("\xa0", " ")  # tooltips: HTML
        assert BEARER not in shown and "Bearer ***" in shown
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    texts = [dialog.error.text(), dialog.history.topLevelItem(0).text(3)]
    assert all(BEARER not in t and KEY not in t for t in texts), texts
    dialog.close()
    target = tmp_path / "export.json"
    task = window.commands.export(target, window.model.queue_filter.query())
    assert task is not None
    await task
    exported = target.read_text()
    assert BEARER not in exported and KEY not in exported
    assert json.loads(exported)[0]["id"] == op_id


async def test_the_filter_matches_what_is_shown(core: Core) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/m", "headers": {"X-Api-Key": KEY}})
    assert await core.queue.list_operations(search=KEY[:6]) == []
    assert len(await core.queue.list_operations(search='"X-Api-Key":"***"')) == 1
