"""Receipts: what the connected side delivered, carried back to where the work was made.

A receipt is one JSON file: a header, then each delivery (the operation's idempotency key,
when it completed, what its completion recorded, such as MLflow run ids). Importing it
completes the operations of those keys, and only those: a key this queue never had
changes nothing, and importing the same receipt again changes nothing more.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from peft_studio_offline.core.paths import PRIVATE_FILE_MODE
from peft_studio_offline.core.transfer._errors import ReceiptError
from peft_studio_offline.core.transfer._staging import absolute, tidy_staged

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

RECEIPT_FORMAT = "peft-studio-offline-receipt"
RECEIPT_VERSION = 1
_PAGE = 1000
# Keys completed per transaction when a receipt is imported.
_COMPLETE_CHUNK = 5000
MAX_RECEIPT_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    path: Path
    receipt_id: str
    deliveries: int
    completed: int = 0
    already_completed: int = 0
    unknown: int = 0
    busy: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "receipt_id": self.receipt_id,
            "deliveries": self.deliveries,
            "completed": self.completed,
            "already_completed": self.already_completed,
            "unknown": self.unknown,
            "busy": self.busy,
        }


async def export_receipt(
    queue: OfflineQueueManager,
    path: str | os.PathLike[str],
    *,
    everything: bool = False,
    staging_root: Path | None = None,
) -> ReceiptResult:
    """Write a receipt of the operations delivered here that came in through bundles
    (``everything``: every completed operation). The file is replaced whole. With
    ``staging_root``, the staged copies of delivered operations are removed after it."""
    target = absolute(path)
    receipt_id = uuid.uuid4().hex
    temporary = target.with_name(f".{target.name}.{receipt_id}.tmp")
    count = 0
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except OSError as exc:
        raise ReceiptError(f"The receipt {target} cannot be written ({exc.strerror}).") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            header = {
                "format": RECEIPT_FORMAT,
                "format_version": RECEIPT_VERSION,
                "receipt_id": receipt_id,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            await asyncio.to_thread(out.write, json.dumps(header)[:-1] + ', "deliveries": [\n')
            after = 0
            while True:
                page = await queue.list_delivered(
                    after_id=after, limit=_PAGE, imported_only=not everything
                )
                if not page:
                    break
                after = page[-1].id
                # An imported operation that one here stood for (the same dedup key) was
                # delivered with it: its key is named too, to complete it at its source.
                lines = [
                    json.dumps(
                        {
                            "idempotency_key": key,
                            "operation_type": d.operation_type,
                            "delivered_at": d.delivered_at,
                            "details": d.details,
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                    for d in page
                    for key in (d.idempotency_key, *d.joined_keys)
                ]
                text = (",\n" if count else "") + ",\n".join(lines)
                await asyncio.to_thread(out.write, text)
                count += len(lines)
            await asyncio.to_thread(_finish, out, f'\n], "count": {count}}}\n')
        await asyncio.to_thread(temporary.replace, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if staging_root is not None:
        await tidy_staged(queue, staging_root)
    return ReceiptResult(target, receipt_id, count)


async def import_receipt(
    queue: OfflineQueueManager, path: str | os.PathLike[str], *, staging_root: Path | None = None
) -> ReceiptResult:
    """Complete the operations the receipt names; a damaged receipt changes nothing. With
    ``staging_root``, staged copies no unfinished operation needs any more are removed."""
    source = absolute(path)
    header, deliveries = await asyncio.to_thread(_read_receipt, source)
    totals = {"completed": 0, "already_completed": 0, "unknown": 0, "busy": 0}
    receipt_id = str(header["receipt_id"])
    for start in range(0, len(deliveries), _COMPLETE_CHUNK):
        chunk = [
            (key, {"receipt": receipt_id, "delivered_at": at, **details})
            for key, at, details in deliveries[start : start + _COMPLETE_CHUNK]
        ]
        counts = await queue.complete_delivered(chunk)
        for name in totals:
            totals[name] += counts.get(name, 0)
    if staging_root is not None:
        await tidy_staged(queue, staging_root)
    return ReceiptResult(source, receipt_id, len(deliveries), **totals)


def _finish(out: TextIO, text: str) -> None:
    out.write(text)
    out.flush()
    os.fsync(out.fileno())


def _read_receipt(source: Path) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    try:
        if source.stat().st_size > MAX_RECEIPT_BYTES:
            raise ReceiptError(f"{source} is too large to be a receipt.")
        data = json.loads(source.read_bytes())
    except FileNotFoundError:
        raise ReceiptError(f"There is no receipt at {source}.") from None
    except OSError as exc:
        raise ReceiptError(f"The receipt {source} cannot be read ({exc.strerror}).") from None
    except ValueError:
        raise ReceiptError(
            f"The receipt {source} is damaged or truncated (not complete JSON); nothing was marked."
        ) from None
    if not isinstance(data, dict) or data.get("format") != RECEIPT_FORMAT:
        raise ReceiptError(f"{source} is not a PEFT Studio Offline receipt.")
    version = data.get("format_version")
    if not isinstance(version, int) or version > RECEIPT_VERSION or version < 1:
        raise ReceiptError(
            f"The receipt {source} uses format version {version!r}; this app reads version"
            f" {RECEIPT_VERSION}: update PEFT Studio Offline to import it."
        )
    items = data.get("deliveries")
    if not isinstance(items, list) or data.get("count") != len(items):
        raise ReceiptError(f"The receipt {source} is incomplete; nothing was marked.")
    deliveries: list[tuple[str, str, dict[str, Any]]] = []
    for item in items:
        key = item.get("idempotency_key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            raise ReceiptError(f"The receipt {source} holds a damaged entry; nothing was marked.")
        details = item.get("details")
        deliveries.append(
            (key, str(item.get("delivered_at", "")), details if isinstance(details, dict) else {})
        )
    return data, deliveries
