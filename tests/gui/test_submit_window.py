"""The window's way in is the core's submit path: the rows and sentences of every other one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from tests.gui.conftest import Core
from tests.support import submit_cases as cases


async def rows_of(queue: Any) -> list[tuple[str, dict[str, Any], int]]:
    return [
        (str(op.operation_type), op.payload, op.priority) for op in await queue.list_operations()
    ]


async def test_the_window_stores_what_the_python_submit_path_stores(
    core: Core, window: MainWindow, tmp_path: Path, isolated_home: Path
) -> None:
    uploads = cases.make_files(tmp_path)
    settings_file = isolated_home / "config" / "settings.toml"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(cases.settings_toml(uploads))
    await core.engine.apply_settings(Settings.load())  # as a running app picks up the file
    good = cases.good(uploads)
    for kind, payload in good:
        await window.commands.add_operation(kind, payload, 0, {})
    async with Runtime(Settings.load(), db_path=tmp_path / "python.db") as runtime:
        for kind, payload in good:
            await runtime.submit(kind, payload)
        expected = await rows_of(runtime.queue)
    assert await rows_of(core.queue) == expected

    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    for case in cases.bad(uploads):
        kind = OperationType(case.operation_type)
        await dialog._add(kind, case.payload, 0)  # what "Add to Queue" runs
        assert dialog.error.text() == case.sentence, case
    assert len(await rows_of(core.queue)) == len(good)  # nothing more was written
    dialog.close()
