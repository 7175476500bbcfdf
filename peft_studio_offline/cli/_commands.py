"""The subcommands, each an coroutine over one runtime that prints and returns an exit code."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peft_studio_offline.cli import _format as fmt
from peft_studio_offline.cli._parser import UsageError
from peft_studio_offline.cli._payload_text import payload_text
from peft_studio_offline.core.direction_controls import escape_direction_controls
from peft_studio_offline.core.enums import OperationStatus, parse_operation_type
from peft_studio_offline.core.errors import (
    InvalidOperationError,
    OperationNotFoundError,
    QueueFullError,
)
from peft_studio_offline.core.masking import mask_secrets, masked_operation, payload_secrets
from peft_studio_offline.core.payload_preview import PayloadPreview
from peft_studio_offline.core.runtime import Runtime

if TYPE_CHECKING:
    from peft_studio_offline.core.operation import OperationSummary
    from peft_studio_offline.core.sync.progress import SyncEvent

Command = Callable[[argparse.Namespace, Runtime], Awaitable[int]]

OK = 0
SHOWN_PAYLOAD_CHARS = 64 * 1024  # what `show` prints of a payload, as the window does
SHOWN_SIDE_CHARS = 4096  # of each side of a conflict


def out(text: str) -> None:
    sys.stdout.write(escape_direction_controls(text) + "\n")
    sys.stdout.flush()


async def enqueue(args: argparse.Namespace, runtime: Runtime) -> int:
    try:
        kind = parse_operation_type(args.type)
    except InvalidOperationError as exc:
        raise UsageError(str(exc)) from None
    try:
        payload = json.loads(payload_text(args.payload))
    except ValueError as exc:
        raise UsageError(f"The payload is not valid JSON ({exc}).") from None
    except RecursionError:
        raise UsageError("The payload is nested too deeply to store.") from None
    if not isinstance(payload, dict):
        raise UsageError(f"The payload must be a JSON object, not {type(payload).__name__}.")
    try:
        op_id = await runtime.submit(
            kind, payload, args.priority, base_dir=Path.cwd(), **_enqueue_options(args)
        )
    except QueueFullError:
        raise  # the queue's refusal, not the input's: exit 1
    except InvalidOperationError as exc:
        raise UsageError(str(exc)) from None
    out(json.dumps({"id": op_id}) if args.json else str(op_id))
    return OK


def _enqueue_options(args: argparse.Namespace) -> dict[str, Any]:
    """The queue options given on the command line (the queue checks their values)."""
    given = {
        "max_attempts": args.max_attempts,
        "ttl": args.ttl,
        "depends_on": args.depends_on,
        "dedup_key": args.dedup_key,
        "resource_key": args.resource_key,
        "conflict_strategy": args.conflict_strategy,
    }
    return {name: value for name, value in given.items() if value is not None}


LIST_HEADERS = ["ID", "TYPE", "STATUS", "PRI", "TRIES", "UPDATED", "PAYLOAD / ERROR"]
LIST_PAGE = 500  # operations read, and printed, at a time: memory stays flat at any size


async def list_operations(args: argparse.Namespace, runtime: Runtime) -> int:
    statuses = [_status(s) for s in args.status or []]
    types = [_type(t) for t in args.type or []]
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be 1 or more.")  # 0 would show nothing and call it empty
    pages = _listed_pages(runtime, statuses or None, types or None, args.limit)
    if args.json:
        await _print_json_array(pages)
        return OK
    widths: list[int] | None = None
    async for page in pages:
        rows = [_list_row(op) for op in page]
        if widths is None:
            widths = fmt.column_widths(LIST_HEADERS, rows)
            # Later pages hold larger ids: the column is as wide as the newest one's.
            newest = await runtime.queue.list_summaries(limit=1, descending=True)
            widths[0] = max(widths[0], len(str(newest[0].id)) if newest else 0)
            widths[-1] = max(widths[-1], fmt.room_for_last(widths))  # later text may be longer
            out(fmt.row_line(LIST_HEADERS, widths))
        for row in rows:
            out(fmt.row_line(row, widths))
    if widths is None:
        out("The queue is empty." if not (statuses or types) else "No operation matches.")
    return OK


async def _listed_pages(
    runtime: Runtime,
    statuses: list[str] | None,
    types: list[str] | None,
    limit: int | None,
) -> AsyncIterator[list[OperationSummary]]:
    """The operations asked for, oldest first, a page at a time (``limit``: the newest N)."""
    queue = runtime.queue
    if limit is not None:
        newest = await queue.list_summaries(
            status=statuses, operation_type=types, limit=limit, descending=True
        )
        newest.reverse()  # the newest N, shown oldest first
        for start in range(0, len(newest), LIST_PAGE):
            yield newest[start : start + LIST_PAGE]
        return
    after: int | None = None
    while True:
        page = await queue.list_summaries(
            status=statuses, operation_type=types, after_id=after, limit=LIST_PAGE
        )
        if not page:
            return
        yield page
        after = page[-1].id


async def _print_json_array(pages: AsyncIterator[list[OperationSummary]]) -> None:
    """A JSON array, written as it is read: one operation a line."""
    held: str | None = None
    out("[")
    async for page in pages:
        for op in page:
            if held is not None:
                out(held + ",")
            held = json.dumps(masked_operation(op.to_dict()), ensure_ascii=False)
    if held is not None:
        out(held)
    out("]")


def _list_row(operation: OperationSummary) -> list[str]:
    item = masked_operation(operation.to_dict())
    return [
        str(item["id"]),
        item["operation_type"],
        item["status"],
        str(item["priority"]),
        f"{operation.attempts_made}/{item['max_attempts']}",
        fmt.when(item["updated_at"]),
        item["error_message"] or item["payload_preview"],
    ]


async def _payload_preview(runtime: Runtime, op_id: int, size: int) -> PayloadPreview:
    from peft_studio_offline.core.payload_preview import preview

    text = await runtime.queue.get_payload_text(op_id)
    if text is None:
        raise OperationNotFoundError(op_id)
    try:
        return await asyncio.to_thread(preview, text, SHOWN_PAYLOAD_CHARS, size=size)
    except ValueError:  # unreadable: the "Error" line says why
        return PayloadPreview("{}", False, size)


async def show(args: argparse.Namespace, runtime: Runtime) -> int:
    queue = runtime.queue
    summary = await queue.get_summary(args.id)
    if summary is None:
        raise OperationNotFoundError(args.id)
    operation = None
    secrets: frozenset[str] = frozenset()
    if args.json:  # the whole operation, for programs: its own secrets mask its free text
        operation = await queue.get_operation(args.id)
        if operation is None:
            raise OperationNotFoundError(args.id)
        secrets = payload_secrets(operation.payload)
    # Outcomes were masked with the operation's own secrets when they were recorded; what
    # is shown is masked again by the rules every output shares.
    attempts = [mask_secrets(a.to_dict(), secrets) for a in await queue.get_attempts(args.id)]
    conflict = await queue.get_conflict(args.id)
    waiting = mask_secrets(await runtime.engine.wait_reason(args.id), secrets)
    if operation is not None:
        item = masked_operation(operation.to_dict())
        item["payload_size"] = summary.payload_size
        item["wait_reason"] = waiting
        item["attempts"] = attempts
        item["conflict"] = None if conflict is None else mask_secrets(conflict.to_dict(), secrets)
        out(json.dumps(item, ensure_ascii=False))
        return OK
    item = masked_operation(summary.to_dict())
    out(
        fmt.key_values(
            [
                ("ID", item["id"]),
                ("Type", item["operation_type"]),
                ("Status", item["status"]),
                ("Waiting", waiting),
                ("Priority", item["priority"]),
                ("Attempts", f"{summary.attempts_made} of {item['max_attempts']}"),
                ("Error", item["error_message"]),
                ("Created", fmt.when(item["created_at"])),
                ("Updated", fmt.when(item["updated_at"])),
                ("Next try", fmt.when(item["next_attempt_at"])),
                ("Expires", fmt.when(item["expires_at"])),
                ("Depends on", ", ".join(map(str, item["depends_on"])) or None),
                ("Idempotency key", item["idempotency_key"]),
            ]
        )
    )
    shown = await _payload_preview(runtime, args.id, summary.payload_size)
    out(f"Payload ({fmt.size(summary.payload_size)}):\n" + shown.text)
    if shown.truncated:
        out(f"Only the start of the payload is shown; 'show {args.id} --json' prints all of it.")
    if conflict is not None:
        record = mask_secrets(conflict.to_dict(), secrets)
        out("Conflict: " + (record["message"] or ""))
        out(
            fmt.key_values(
                [
                    ("Local", fmt.bounded(record["local"], SHOWN_SIDE_CHARS)),
                    ("Remote", fmt.bounded(record["remote"], SHOWN_SIDE_CHARS)),
                ]
            )
        )
    if attempts:
        out("History:")
        rows = [
            [str(a["attempt"]), fmt.when(a["at"]), a["outcome"], a["error"] or ""] for a in attempts
        ]
        out(fmt.table(["#", "AT", "OUTCOME", "ERROR"], rows))
    return OK


async def delete(args: argparse.Namespace, runtime: Runtime) -> int:
    if not await runtime.queue.delete_operation(args.id):
        raise OperationNotFoundError(args.id)
    out(json.dumps({"id": args.id, "deleted": True}) if args.json else f"Deleted {args.id}.")
    return OK


async def stats(args: argparse.Namespace, runtime: Runtime) -> int:
    counts = await runtime.queue.get_queue_stats()
    if args.json:
        out(json.dumps(counts))
        return OK
    out(fmt.table(["STATUS", "COUNT"], [[k, str(v)] for k, v in counts.items()], False))
    return OK


async def sync(args: argparse.Namespace, runtime: Runtime) -> int:
    engine = runtime.engine
    bar = fmt.ProgressBar()
    unsubscribe = None
    if bar.enabled:

        def on_event(event: SyncEvent) -> None:
            held = f" ({event.held} held back)" if event.held else ""
            bar.update(event.done, event.total, "operations" + held)

        unsubscribe = engine.add_progress_listener(on_event)
    try:
        result = mask_secrets(await engine.sync())
    finally:
        if unsubscribe is not None:
            unsubscribe()
        bar.close()
    if args.json:
        out(json.dumps(result, default=str))
    else:
        from peft_studio_offline.core.sync.progress import outcome_phrases

        rest = "".join(f", {phrase}" for phrase in outcome_phrases(result))
        out(f"Synced {result['total']} operation(s): {result['completed']} completed{rest}.")
        for line in sync_problem_lines(result):
            out(line)
    return OK  # the run happened; failed operations are retried later, as the result says


async def status(args: argparse.Namespace, runtime: Runtime) -> int:
    from peft_studio_offline.api import read_server_info, server_file

    monitor = runtime.monitor
    await monitor.check_connectivity()
    network = mask_secrets(monitor.get_status_info())
    counts = await runtime.queue.get_queue_stats()
    server = read_server_info(server_file(runtime.settings.paths.data_dir))
    usage = await runtime.queue.storage_usage()
    data = {
        "network": network,
        "queue": counts,
        "api": None if server is None else {"url": server.url, "pid": server.pid},
        "database": str(runtime.db_path),
        "storage": None if usage is None else {"used": usage.used, "limit": usage.limit},
    }
    if args.json:
        out(json.dumps(data, default=str))
        return OK
    endpoints = network.get("endpoints") or []
    out(
        fmt.key_values(
            [
                ("Network", network["status"]),
                ("Checked", f"{len(endpoints)} endpoint(s)" if endpoints else "nothing to check"),
                ("Pending", counts["pending"]),
                ("Failed", counts["failed"]),
                ("Conflicts", counts["conflict"]),
                ("Total", counts["total"]),
                ("API", server.url if server else "not running"),
                ("Database", runtime.db_path),
                ("Storage", "no budget" if usage is None else usage.short()),
            ]
        )
    )
    return OK


def _status(text: str) -> str:
    try:
        return OperationStatus(text).value
    except ValueError:
        known = ", ".join(s.value for s in OperationStatus)
        raise UsageError(f"Unknown status {text!r}; expected one of: {known}.") from None


def _type(text: str) -> str:
    try:
        return parse_operation_type(text).value
    except InvalidOperationError as exc:
        raise UsageError(str(exc)) from None


async def move_aside(args: argparse.Namespace, runtime: Runtime) -> int:
    """The way forward from a damaged database: rename it, so a new queue can start."""
    from peft_studio_offline.core.errors import CorruptDatabaseError
    from peft_studio_offline.core.queue import move_aside_corrupt_database

    try:
        await runtime.queue.open()
    except CorruptDatabaseError:
        moved = move_aside_corrupt_database(runtime.db_path)
        out(json.dumps({"moved_to": str(moved)}) if args.json else f"Moved to {moved}.")
        return OK
    raise InvalidOperationError(
        f"The queue database {runtime.db_path} can be read; nothing was moved."
    )


async def rotate_key(args: argparse.Namespace, runtime: Runtime) -> int:
    kid = await runtime.rotate_payload_key()
    out(
        json.dumps({"key": kid})
        if args.json
        else f"The secrets of queued operations are now encrypted with the key {kid}."
    )
    return OK


async def cleanup(args: argparse.Namespace, runtime: Runtime) -> int:
    """Retention now, as the running app applies it every hour."""
    result = await runtime.apply_retention()
    usage = await runtime.queue.storage_usage()
    if args.json:
        document: dict[str, Any] = {
            "completed_removed": result.completed,
            "ended_removed": result.ended,
            "files_removed": result.files,
            "file_bytes_removed": result.file_bytes,
        }
        if usage is not None:
            document |= {"storage_used": usage.used, "storage_limit": usage.limit}
        out(json.dumps(document))
    else:
        out(result.sentence())
        if usage is not None:
            out(usage.sentence())
    return OK


COMMANDS: dict[str, Command] = {
    "enqueue": enqueue,
    "list": list_operations,
    "show": show,
    "delete": delete,
    "stats": stats,
    "sync": sync,
    "status": status,
    "move-aside": move_aside,
    "rotate-key": rotate_key,
    "cleanup": cleanup,
}


def sync_problem_lines(result: dict[str, Any], groups_shown: int = 10) -> list[str]:
    """The run's errors, equal ones on one line, and what a paused host held back."""
    from peft_studio_offline.core.sync.progress import describe_ids, group_errors

    lines = []
    groups = group_errors(result.get("errors", []))
    for group in groups[:groups_shown]:
        lines.append(f"  {describe_ids(group.ids)}: {group.error}")
    hidden = groups[groups_shown:]
    if hidden:
        count = sum(len(group.ids) for group in hidden)
        lines.append(
            f"  …and {count} more operation(s) with {len(hidden)} other error(s)"
            " (see 'list --status failed')."
        )
    held = int(result.get("held_back", 0) or 0)
    if held:
        hosts = ", ".join(result.get("paused_hosts", [])) or "a host"
        lines.append(
            f"{held} operation(s) held back: {hosts} is paused after repeated failures;"
            " they are tried again later."
        )
    return lines
