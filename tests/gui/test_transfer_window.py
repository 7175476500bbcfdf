"""File → Export for Transfer… and File → Import Transfer… in the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until


async def test_the_file_menu_exports_a_bundle_and_imports_it_once(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    data = tmp_path / "eval.bin"
    data.write_bytes(b"e" * 5000)
    op_id = await core.queue.enqueue("file_upload", {"path": str(data), "url": "http://h/u"})
    titles = [a.text() for a in window.menus["file"].actions()]
    assert "Export for &Transfer…" in titles and "&Import Transfer…" in titles
    stick = tmp_path / "stick"
    stick.mkdir()

    window.actions_.export_transfer.trigger()
    dialog = window.pending_dialog
    assert isinstance(dialog, QFileDialog) and dialog.objectName() == "exportTransferDialog"
    dialog.fileSelected.emit(str(stick))
    await until(lambda: "wait for a receipt" in window.statusBar().currentMessage())

    (bundle,) = stick.iterdir()
    assert (bundle / "MANIFEST.json").is_file()
    op = await core.queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.EXPORTED
    await core.queue.delete_operation(op_id)

    window.actions_.import_transfer.trigger()
    dialog = window.pending_dialog
    assert isinstance(dialog, QFileDialog) and dialog.objectName() == "importTransferDialog"
    dialog.fileSelected.emit(str(bundle))
    await until(lambda: "Imported 1 operation from" in window.statusBar().currentMessage())
    (back,) = await core.queue.list_operations()
    assert back.idempotency_key == op.idempotency_key
    assert Path(back.payload["path"]).read_bytes() == data.read_bytes()


async def test_a_damaged_bundle_is_refused_in_a_message_naming_the_part(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    await core.queue.enqueue("api_call", {"url": "http://h/x"})
    stick = tmp_path / "stick"
    stick.mkdir()
    task = window.commands.export_transfer(stick)
    assert task is not None
    await task
    (bundle,) = stick.iterdir()
    (bundle / "bundle.tar.00001").write_bytes(b"not the part")

    window.commands.import_transfer(bundle)

    await until(lambda: window.error_box is not None)
    assert window.error_box is not None
    assert "Part 1 of 1 (bundle.tar.00001)" in window.error_box.text()
    assert (await core.queue.get_queue_stats())["total"] == 1
    assert "Checking" not in window.statusBar().currentMessage()  # that is over
