"""What the window's actions do: thin coroutines over the core, reported back in sentences.

Widgets decide nothing: an action asks this object, which calls the queue, the monitor or
the engine and tells the window what came of it (``message``), or what went wrong
(``failed``). Every call runs as a task owned by the ``TaskKeeper``; nothing here blocks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import textwrap
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus
from peft_studio_offline.core.errors import InvalidStateError, PeftStudioOfflineError
from peft_studio_offline.core.operation import OperationSummary
from peft_studio_offline.gui.bridge import CoreBridge
from peft_studio_offline.gui.formatting import count, network_label
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.tasks import TaskKeeper, describe_error

if TYPE_CHECKING:
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine

log = logging.getLogger(__name__)


class WindowCommands(QObject):
    message = Signal(str)  # what happened, for the status bar
    failed = Signal(str)  # what went wrong, for a message box

    def __init__(self, bridge: CoreBridge, tasks: TaskKeeper, parent: QObject | None = None):
        super().__init__(parent)
        self.bridge = bridge
        self.tasks = tasks
        self.queue = bridge.queue

    # The monitor and the engine are the bridge's, attached after the first paint; the
    # actions that need them are enabled only then.
    @property
    def monitor(self) -> NetworkMonitor:
        if self.bridge.monitor is None:
            raise InvalidStateError(
                translate("Commands", "The network monitor is still starting; try again.")
            )
        return self.bridge.monitor

    @property
    def engine(self) -> SyncEngine:
        if self.bridge.engine is None:
            raise InvalidStateError(
                translate("Commands", "The sync engine is still starting; try again.")
            )
        return self.bridge.engine

    # ------------------------------------------------------------------- network

    def check_connectivity(self) -> asyncio.Task[None] | None:
        return self.tasks.start(self._check(), QT_TRANSLATE_NOOP("Tasks", "check the connection"))

    async def _check(self) -> None:
        if self.bridge.probes_nothing:
            self.message.emit(
                translate(
                    "Commands",
                    "Nothing to check: no endpoints or sync targets are set (File → Settings…).",
                )
            )
            return
        self.message.emit(translate("Commands", "Checking the connection…"))
        online = await self.monitor.check_connectivity()
        self.bridge.announce_network_info()
        status = str(getattr(self.monitor, "status", "online" if online else "offline"))
        self.message.emit(
            translate("Commands", "Connection checked: {status}.").format(
                status=network_label(status)
            )
        )

    # ---------------------------------------------------------------------- sync

    def sync_now(self) -> asyncio.Task[None] | None:
        if self.bridge.sync_visible:  # a quiet automatic look is joined instead
            self.message.emit(translate("Commands", "A sync is already running."))
            return None
        return self.tasks.start(self._sync(), QT_TRANSLATE_NOOP("Tasks", "sync"))

    async def _sync(self) -> None:
        self.bridge.note_sync_started()
        result: Mapping[str, Any] = {}
        try:
            result = await self.engine.sync()
        finally:
            self.bridge.note_sync_finished(dict(result or {}))
        self.message.emit(_sync_sentence(result))

    def set_auto_sync(self, enabled: bool, *, quiet: bool = False) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._set_auto_sync(enabled, quiet), QT_TRANSLATE_NOOP("Tasks", "change automatic sync")
        )

    async def _set_auto_sync(self, enabled: bool, quiet: bool) -> None:
        if enabled:
            await self.engine.start_auto_sync()
        else:
            await self.engine.stop_auto_sync()
        self.bridge.auto_sync_changed.emit(enabled)
        if not quiet:
            self.message.emit(
                translate("Commands", "Automatic sync is on.")
                if enabled
                else translate("Commands", "Automatic sync is off.")
            )

    def set_paused(self, paused: bool, auto_sync: bool) -> asyncio.Task[None] | None:
        """Pause: no automatic runs and the current one stops; resume restores auto sync."""
        return self.tasks.start(
            self._set_paused(paused, auto_sync), QT_TRANSLATE_NOOP("Tasks", "pause syncing")
        )

    async def _set_paused(self, paused: bool, auto_sync: bool) -> None:
        if paused:
            await self.engine.stop_auto_sync()
            await self.engine.stop("syncing was paused")
        elif auto_sync:
            await self.engine.start_auto_sync()
        self.message.emit(
            translate("Commands", "Syncing is paused.")
            if paused
            else translate("Commands", "Syncing resumed.")
        )

    def set_conflict_strategy(self, strategy: ConflictResolution) -> None:
        try:
            self.engine.set_conflict_strategy(strategy)
        except (PeftStudioOfflineError, ValueError) as exc:
            self.failed.emit(str(exc))
            return
        self.message.emit(
            translate("Commands", "Conflicts will be settled with: {strategy}.").format(
                strategy=strategy_label(strategy)
            )
        )

    def conflict_strategy(self) -> ConflictResolution | None:
        engine = self.bridge.engine
        value: object = None if engine is None else engine.conflict_strategy
        if value is None:
            value = self.bridge.engine_status().get("conflict_strategy")
        try:
            return ConflictResolution(str(value)) if value is not None else None
        except ValueError:
            return None

    # --------------------------------------------------------------------- queue

    def delete(self, ids: Sequence[int]) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._delete(list(ids)), QT_TRANSLATE_NOOP("Tasks", "delete the operations")
        )

    async def _delete(self, ids: list[int]) -> None:
        deleted = await self.queue.delete_operations(ids)
        self.message.emit(translate("Commands", "Deleted %Ln operation(s).", None, deleted))

    def retry(self, ids: Sequence[int]) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._each(
                ids, "retry_now", QT_TRANSLATE_NOOP("Commands", "%Ln operation(s) queued again.")
            ),
            QT_TRANSLATE_NOOP("Tasks", "retry"),
        )

    def cancel(self, ids: Sequence[int]) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._each(ids, "cancel", QT_TRANSLATE_NOOP("Commands", "%Ln operation(s) cancelled.")),
            QT_TRANSLATE_NOOP("Tasks", "cancel"),
        )

    def set_priority(self, ids: Sequence[int], priority: int) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._each(
                ids,
                "set_priority",
                QT_TRANSLATE_NOOP("Commands", "%Ln operation(s) set to priority {priority}."),
                priority,
            ),
            QT_TRANSLATE_NOOP("Tasks", "change the priority"),
        )

    async def _each(self, ids: Iterable[int], method: str, done: str, *args: Any) -> None:
        """Apply one queue call to each id; report how many worked and the first refusal."""
        ok = 0
        refusals: list[str] = []
        call = getattr(self.queue, method)
        for op_id in ids:
            try:
                await call(op_id, *args)
                ok += 1
            except PeftStudioOfflineError as exc:
                refusals.append(str(exc))
        if ok:
            self.message.emit(
                translate("Commands", done, None, ok).format(priority=args[0] if args else "")
            )
        if refusals:
            others = len(refusals) - 1  # lupdate reads a plain name as the count only
            more = " " + translate("Commands", "(%Ln more like it)", None, others) if others else ""
            self.failed.emit(refusals[0] + more)

    def retry_failed(self) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._retry_failed(), QT_TRANSLATE_NOOP("Tasks", "retry the failed operations")
        )

    async def _retry_failed(self) -> None:
        failed = await self.queue.list_summaries(status=OperationStatus.FAILED, limit=None)
        if not failed:
            self.message.emit(translate("Commands", "No failed operations to retry."))
            return
        await self._each(
            [op.id for op in failed],
            "retry_now",
            QT_TRANSLATE_NOOP("Commands", "%Ln operation(s) queued again."),
        )

    def clear_completed(self) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._clear_completed(), QT_TRANSLATE_NOOP("Tasks", "clear the completed operations")
        )

    async def _clear_completed(self) -> None:
        removed = await self.queue.clear_completed()
        self.message.emit(
            translate("Commands", "Removed %Ln completed operation(s).", None, removed)
        )

    def enqueue(
        self, operation_type: str, payload: Mapping[str, Any], priority: int, **options: Any
    ) -> asyncio.Task[int] | None:
        return self.tasks.start(
            self.add_operation(operation_type, payload, priority, options),
            QT_TRANSLATE_NOOP("Tasks", "add the operation"),
        )

    async def add_operation(
        self,
        operation_type: str,
        payload: Mapping[str, Any],
        priority: int,
        options: Mapping[str, Any],
    ) -> int:
        from peft_studio_offline.core.settings import Settings
        from peft_studio_offline.core.submit import submit

        live = getattr(self.engine, "settings", None)  # the live ones, once attached
        settings = live if isinstance(live, Settings) else await asyncio.to_thread(Settings.load)
        # The core's one submit path; a relative path in the window means one in the home.
        op_id = await submit(
            self.queue,
            operation_type,
            payload,
            priority,
            settings=settings,
            base_dir=Path.home(),
            **options,
        )
        self.message.emit(translate("Commands", "Added operation {id}.").format(id=op_id))
        return op_id

    def export(self, path: Path, query: Mapping[str, Any]) -> asyncio.Task[None] | None:
        return self.tasks.start(
            self._export(path, query), QT_TRANSLATE_NOOP("Tasks", "export the queue")
        )

    async def _export(self, path: Path, query: Mapping[str, Any]) -> None:
        """Every listed operation with its whole payload (masked), as a JSON array.

        Payloads are read one at a time and decoded, masked and written on a worker
        thread: the GUI thread handles only their summaries, whatever their size.
        """
        summaries = await self.queue.list_summaries(**query, limit=None)
        writer = await asyncio.to_thread(_ExportWriter, path)
        count = 0
        try:
            batch: list[tuple[dict[str, Any], str]] = []
            batch_bytes = 0
            for summary in summaries:
                text = await self.queue.get_payload_text(summary.id)
                if text is None:  # deleted meanwhile
                    continue
                batch.append((summary.to_dict(), text))
                batch_bytes += len(text)
                if batch_bytes > _EXPORT_BATCH_BYTES or len(batch) >= 500:
                    count += await asyncio.to_thread(writer.write, batch)
                    batch, batch_bytes = [], 0
            count += await asyncio.to_thread(writer.write, batch)
            await asyncio.to_thread(writer.finish)
        finally:
            await asyncio.to_thread(writer.close)
        self.message.emit(
            translate("Commands", "Exported %Ln operation(s) to {path}.", None, count).format(
                path=path
            )
        )

    # ------------------------------------------------------------ transfer bundles

    def export_transfer(self, folder: Path) -> asyncio.Task[None] | None:
        """Write a bundle into a new folder inside ``folder`` (a drive, usually)."""
        return self.tasks.start(
            self._export_transfer(folder), QT_TRANSLATE_NOOP("Tasks", "export for transfer")
        )

    async def _export_transfer(self, folder: Path) -> None:
        from peft_studio_offline.core.transfer import ExportOptions, export_bundle, export_roots

        target = folder / f"peft-transfer-{time.strftime('%Y%m%d-%H%M%S')}"
        self.message.emit(
            translate("Commands", "Exporting for transfer into {folder}…").format(folder=target)
        )
        # The window writes unencrypted bundles: operations holding secrets stay here.
        result = await export_bundle(
            self.queue,
            target,
            ExportOptions(without_secrets=True),
            roots=export_roots(self.engine.settings, self.queue.db_path),
        )
        n_files, n_operations, left_out = result.files, result.operations, result.left_out
        files = translate("Commands", "%Ln file(s)", None, n_files)
        sentence = translate(
            "Commands",
            "Exported %Ln operation(s) and {files} to {folder}; they wait for a receipt.",
            None,
            n_operations,
        ).format(files=files, folder=target)
        if left_out:
            sentence += " " + translate(
                "Commands",
                "%Ln operation(s) holding secrets stayed here (the command line's bundle"
                " export --recipient encrypts them for the other side).",
                None,
                left_out,
            )
        self.message.emit(sentence)

    def import_transfer(self, folder: Path) -> asyncio.Task[None] | None:
        """Check the bundle in ``folder`` whole, then queue what this queue lacks."""
        return self.tasks.start(
            self._import_transfer(folder), QT_TRANSLATE_NOOP("Tasks", "import the transfer")
        )

    async def _import_transfer(self, folder: Path) -> None:
        from peft_studio_offline.core.transfer import import_bundle, transfers_root

        self.message.emit(
            translate("Commands", "Checking the bundle in {folder}…").format(folder=folder)
        )
        try:
            result = await import_bundle(
                self.queue, folder, staging_root=transfers_root(self.engine.settings.paths)
            )
        except BaseException:
            self.message.emit("")  # "Checking…" is over; the refusal is told on its own
            raise
        added, here = result.added, result.already_here
        already = translate("Commands", "%Ln already here", None, here)
        self.message.emit(
            translate(
                "Commands", "Imported %Ln operation(s) from {folder}; {already}.", None, added
            ).format(folder=folder, already=already)
        )

    # ---------------------------------------------------------------- conflicts

    def keep_local_refusal(self, operation: OperationSummary) -> str | None:
        """Why "keep mine" cannot settle this operation's conflict (None: it can)."""
        engine = self.bridge.engine
        return None if engine is None else engine.keep_local_refusal(operation.operation_type)

    async def resolve_conflict(
        self, op_id: int, resolution: ConflictResolution, merged: Any = None
    ) -> None:
        """Settle one conflict the user decided; raises for the dialog to show."""
        await self.engine.resolve_conflict(
            op_id, resolution, merged if resolution is ConflictResolution.MERGE else None
        )
        self.message.emit(
            translate("Commands", "Conflict of operation {id} resolved.").format(id=op_id)
        )

    def report(self, exc: BaseException, what: str) -> None:
        self.failed.emit(describe_error(exc, what))


def strategy_label(strategy: ConflictResolution | str) -> str:
    return {
        ConflictResolution.LOCAL_WINS: translate("Commands", "Keep mine (local wins)"),
        ConflictResolution.REMOTE_WINS: translate("Commands", "Keep theirs (remote wins)"),
        ConflictResolution.MERGE: translate("Commands", "Merge"),
        ConflictResolution.MANUAL: translate("Commands", "Ask me (manual)"),
    }.get(ConflictResolution(str(strategy)), str(strategy))


def _sync_sentence(result: Mapping[str, Any]) -> str:
    total = int(result.get("total", 0) or 0)
    held = int(result.get("held_back", 0) or 0)
    if not total and not held:
        return translate("Commands", "Sync finished: nothing was due.")
    from peft_studio_offline.gui.words import outcome_phrases

    completed = count(int(result.get("completed", 0) or 0))
    parts = [
        translate("Commands", "Sync finished: {sent} of {total} sent").format(
            sent=completed, total=count(total)
        )
    ]
    parts += outcome_phrases(result)
    if held:
        parts.append(
            translate(
                "Commands",
                "%Ln held back (a host is paused after repeated failures)",
                None,
                held,
            )
        )
    return ", ".join(parts) + "."


# Payload text gathered before a worker thread writes it (bounds the memory an export holds).
_EXPORT_BATCH_BYTES = 8 * 1024 * 1024


class _ExportWriter:
    """A JSON array written item by item into ``NAME.part``, renamed when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".part")
        # For the user alone, like the queue it comes from: secrets are masked, the rest
        # (runs, endpoints, file names) is still the user's own business.
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.handle = os.fdopen(fd, "w", encoding="utf-8")
        self.handle.write("[")
        self.first = True
        self.done = False

    def write(self, items: list[tuple[dict[str, Any], str]]) -> int:
        from peft_studio_offline.core.masking import masked_operation
        from peft_studio_offline.core.payload_preview import read_prefix

        for data, text in items:
            for key in ("payload_preview", "payload_truncated"):
                data.pop(key, None)
            try:
                payload, _ = read_prefix(text, None)  # pure Python: the GUI thread runs too
            except ValueError:  # unreadable: "problem" says why
                payload = {}
            data["payload"] = payload if isinstance(payload, dict) else {}
            item = json.dumps(masked_operation(data), indent=2, ensure_ascii=False, default=str)
            self.handle.write(("\n" if self.first else ",\n") + textwrap.indent(item, "  "))
            self.first = False
        return len(items)

    def finish(self) -> None:
        self.handle.write("\n]\n" if not self.first else "]\n")
        self.handle.close()
        self.tmp.replace(self.path)
        self.done = True

    def close(self) -> None:
        if not self.done:
            self.handle.close()
            self.tmp.unlink(missing_ok=True)
