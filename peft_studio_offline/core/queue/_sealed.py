"""The queue's side of encrypted secrets (``core.sealing``): opening claimed operations for
sending, masking what is recorded about them, and sealing everything again after a rotation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any

from peft_studio_offline.core.masking import SEALED, mask_secrets, mask_text, payload_secrets
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.queue import _jobs
from peft_studio_offline.core.queue._codec import decode_payload, encode_payload
from peft_studio_offline.core.queue._rows import PAYLOAD_BLOB_COLUMN, PAYLOAD_COLUMN
from peft_studio_offline.core.sealing import (
    PayloadSealer,
    SecretsUnavailableError,
    holds_sealed,
    key_ids_in,
)

log = logging.getLogger("peft_studio_offline.core.queue")

Read = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]
Write = Callable[[Any], Awaitable[Any]]
Wait = Callable[[int, str], Awaitable[Any]]


class OpenedSecrets:
    """What one queue instance knows of the operations it opened for sending.

    The secret values of each, until it is settled: what is recorded about it (a server's
    echo of its headers) is masked with them, since the stored payload no longer shows them
    to the masking of what is displayed. And the operations a claim left waiting because
    their key is not here, for the sync run to count.
    """

    def __init__(self) -> None:
        self._secrets: dict[int, frozenset[str]] = {}
        self._unopened: list[int] = []

    async def open(
        self,
        sealer: PayloadSealer,
        operations: list[Operation],
        rows: Sequence[sqlite3.Row],
        wait: Wait,
    ) -> list[Operation]:
        """Claimed operations with their secrets decrypted. One whose key is not here is
        left out and handed to ``wait`` with the reason: never sent without its credentials.
        """
        opened: list[Operation] = []
        for op, row in zip(operations, rows, strict=True):
            text = row[PAYLOAD_COLUMN]
            plain = (
                row[PAYLOAD_BLOB_COLUMN] is None and isinstance(text, str) and SEALED not in text
            )
            if op.problem or plain:
                opened.append(op)
                continue
            try:
                payload = await asyncio.to_thread(sealer.unseal, op.payload)
            except SecretsUnavailableError as exc:
                log.warning("Operation %d waits: %s", op.id, exc)
                await wait(op.id, str(exc))
                self._unopened.append(op.id)
                continue
            if payload is not op.payload:
                self._secrets[op.id] = payload_secrets(payload)
                op = dataclasses.replace(op, payload=payload)
            opened.append(op)
        return opened

    def take_unopened(self) -> list[int]:
        taken, self._unopened = self._unopened, []
        return taken

    def masked(self, op_id: int, value: Any, *, settled: bool = False) -> Any:
        """``value`` (a message, details) masked with the opened secrets of ``op_id``;
        ``settled`` forgets them (the last thing recorded about this claim)."""
        secrets = self._secrets.pop(op_id, None) if settled else self._secrets.get(op_id)
        if not secrets or value is None:
            return value
        return mask_text(value, secrets) if isinstance(value, str) else mask_secrets(value, secrets)

    def forget(self, op_ids: Iterable[int]) -> None:
        for op_id in op_ids:
            self._secrets.pop(op_id, None)


async def reseal(
    sealer: PayloadSealer, read: Read, write: Write, compress_threshold: int
) -> set[str]:
    """Encrypt every stored secret again with the current key; returns the ids of the keys
    the queue's envelopes use afterwards (see ``OfflineQueueManager.reseal``)."""
    in_use: set[str] = set()
    current = await asyncio.to_thread(lambda: sealer.current_key_id)
    rows = await read(
        "SELECT id, payload, payload_blob FROM offline_operations"
        " WHERE payload_blob IS NOT NULL OR instr(payload, ?) > 0",
        (SEALED,),
    )
    for op_id, text, blob in rows:
        try:
            payload = decode_payload(text, blob)
        except (ValueError, zlib.error):
            continue  # unreadable: listed with its problem, never sent
        if not holds_sealed(payload):
            continue
        sealed = await _sealed_again(sealer, payload, current, in_use)
        if sealed is not None:
            encoded = encode_payload(sealed, compress_threshold)
            await write(
                partial(_jobs.replace_payload, op_id=op_id, encoded=encoded, was=(text, blob))
            )
    rows = await read(
        "SELECT operation_id, local FROM operation_conflicts WHERE instr(local, ?) > 0",
        (SEALED,),
    )
    for op_id, text in rows:
        try:
            local = json.loads(text)
        except ValueError:
            continue
        sealed = await _sealed_again(sealer, local, current, in_use)
        if sealed is not None:
            await write(partial(_jobs.replace_conflict_local, op_id=op_id, local=sealed, was=text))
    return in_use


async def _sealed_again(
    sealer: PayloadSealer, value: Any, current: str | None, in_use: set[str]
) -> Any:
    """``value`` sealed with the current key, or None when it needs no change (or cannot be
    opened here); ``in_use`` gains the keys its envelopes use afterwards."""
    if key_ids_in(value) <= {current}:
        in_use.add(str(current))
        return None
    try:
        plain = await asyncio.to_thread(sealer.unseal, value)
    except SecretsUnavailableError:
        in_use |= key_ids_in(value)
        return None
    sealed = await asyncio.to_thread(sealer.seal, plain, fresh=False)
    in_use |= key_ids_in(sealed)
    return sealed
