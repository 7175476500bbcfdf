"""What the archive holds for each operation, and the names of its members.

Members, in order, page by page: ``operations/<page>.jsonl`` (one JSON record a line),
then ``files/<n>/<relative path>`` for the files of the page's operations, where ``n`` is
the operation's number in the bundle. A record keeps what the queue needs to hold the
same operation on the other side: its idempotency key, type, payload, priority, attempt
limit, conflict strategy, resource key, and its dependencies by key; from format version 2
on, its deduplication key, expiry and earliest start (Unix seconds) when it has them, and
when it was queued; ``files`` lists the file (or the folder's files) the payload's ``path``
named, with their sizes.

Nothing a record says is trusted as a place on disk: the reader places each file under
its own staging folder, by ``n`` and a relative path checked here.
"""

from __future__ import annotations

import json
import math
import re
import tarfile
from dataclasses import dataclass
from typing import Any

import orjson

from peft_studio_offline.core.enums import ConflictResolution, OperationType
from peft_studio_offline.core.operation import PRIORITY_MAX, PRIORITY_MIN
from peft_studio_offline.core.transfer._errors import BundleError

PAGE_MEMBER = re.compile(r"^operations/([0-9]{6})\.jsonl$")
FILE_MEMBER = re.compile(r"^files/([0-9]{1,9})/(.+)$")
FILE_TYPES = frozenset({OperationType.FILE_UPLOAD.value, OperationType.MODEL_PUSH.value})
_TYPES = frozenset(t.value for t in OperationType)
_STRATEGIES = frozenset(s.value for s in ConflictResolution)
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class FileList:
    """The files an operation sends: one file, or a folder's files (relative paths)."""

    kind: str  # "file" or "folder"
    name: str  # the file's or the folder's own name
    entries: tuple[tuple[str, int], ...]  # (relative path, size); a file: ((name, size),)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.entries)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "entries": [list(e) for e in self.entries]}


@dataclass(frozen=True, slots=True)
class Record:
    number: int
    idempotency_key: str
    operation_type: str
    payload: dict[str, Any]
    priority: int
    max_attempts: int
    conflict_strategy: str | None
    resource_key: str | None
    depends_on: tuple[str, ...]
    files: FileList | None
    source_id: int
    # Format version 2: absent from a record (and from any version-1 bundle) when unset.
    dedup_key: str | None = None
    expires_at: float | None = None
    not_before: float | None = None
    created_at: str | None = None

    @property
    def needs_version_2(self) -> bool:
        """A reader of version 1 would drop something of this record: an expiry would be
        lost, and an expired operation sent."""
        return (self.dedup_key, self.expires_at, self.not_before) != (None, None, None)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n": self.number,
            "idempotency_key": self.idempotency_key,
            "operation_type": self.operation_type,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "conflict_strategy": self.conflict_strategy,
            "resource_key": self.resource_key,
            "depends_on": list(self.depends_on),
            "files": None if self.files is None else self.files.as_json(),
            "source_id": self.source_id,
            "payload": self.payload,
        }
        for name in ("dedup_key", "expires_at", "not_before", "created_at"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


def record_line(data: dict[str, Any]) -> bytes:
    """One JSON line: orjson where it can (a tenth of ``json.dumps``'s time per record, most
    of an export's time per operation), the standard encoder for what orjson refuses
    (integers beyond 64 bits)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def load_line(line: bytes) -> Any:
    """``record_line`` read back (``ValueError`` for a line that is not JSON)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)  # what orjson refuses but JSON allows (large integers)


def forget_members(tar: tarfile.TarFile) -> None:
    """``tarfile`` keeps every member it wrote or read: a bundle of a million files would
    hold them all in memory. Nothing here looks members up later, so the list is emptied
    as the archive goes."""
    vars(tar)["members"].clear()


def page_member(page: int) -> str:
    return f"operations/{page:06d}.jsonl"


def file_member(number: int, relative: str) -> str:
    return f"files/{number}/{relative}"


def safe_relative(path: str, where: str) -> str:
    """``path`` if it is a plain relative POSIX path that stays inside its folder."""
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or re.match(r"^[A-Za-z]:", path)
        or any(part in ("", ".", "..") or len(part) > MAX_NAME for part in parts)
    ):
        raise BundleError(
            f"The bundle {where} names a file {path!r} that would leave its staging folder"
            " (an absolute path, '..' or an empty part); nothing was imported."
        )
    return path


def parse_record(data: object, where: str, expected_number: int) -> Record:
    """A record read from a bundle, every field checked; else ``BundleError``."""
    if not isinstance(data, dict):
        raise BundleError(f"The bundle {where} holds an operation record that is not an object.")
    try:
        number = _int(data["n"])
        if number != expected_number:
            raise ValueError("out of order")
        kind = data["operation_type"]
        if kind not in _TYPES:
            raise ValueError(kind)
        payload = data["payload"]
        key = data["idempotency_key"]
        if not isinstance(payload, dict) or not isinstance(key, str) or not key.strip():
            raise ValueError("payload or key")
        if len(key) > 512:
            raise ValueError("key")
        priority = _int(data.get("priority", 0))
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            raise ValueError("priority")
        max_attempts = _int(data.get("max_attempts", 5))
        if max_attempts < 1:
            raise ValueError("max_attempts")
        strategy = data.get("conflict_strategy")
        if strategy is not None and strategy not in _STRATEGIES:
            raise ValueError("strategy")
        resource_key = data.get("resource_key")
        if resource_key is not None and not isinstance(resource_key, str):
            raise ValueError("resource_key")
        depends_on = tuple(data.get("depends_on") or ())
        if not all(isinstance(d, str) and d for d in depends_on):
            raise ValueError("depends_on")
        files = _files(data.get("files"), kind, where)
        source_id = _int(data.get("source_id", 0))
        dedup_key = _optional_key(data.get("dedup_key"))
        expires_at = _optional_moment(data.get("expires_at"))
        not_before = _optional_moment(data.get("not_before"))
        created_at = data.get("created_at")
        if created_at is not None and not isinstance(created_at, str):
            raise ValueError("created_at")
    except (KeyError, TypeError, ValueError):
        raise BundleError(
            f"The bundle {where} holds a damaged record for operation {expected_number};"
            " nothing was imported."
        ) from None
    return Record(
        number, key, kind, payload, priority, max_attempts, strategy, resource_key,
        depends_on, files, source_id, dedup_key, expires_at, not_before, created_at,
    )  # fmt: skip


def _files(value: object, kind: str, where: str) -> FileList | None:
    if value is None:
        return None
    if kind not in FILE_TYPES or not isinstance(value, dict):
        raise ValueError("files")
    files_kind, name, entries = value["kind"], value["name"], value["entries"]
    if files_kind not in ("file", "folder") or not isinstance(name, str):
        raise ValueError("files kind")
    safe_relative(name, where)
    if "/" in name:
        raise BundleError(f"The bundle {where} names a file {name!r} with a folder in it.")
    checked: list[tuple[str, int]] = []
    for entry in entries:
        relative, size = entry
        if not isinstance(relative, str):
            raise ValueError("entry")
        checked.append((safe_relative(relative, where), _int(size)))
    if files_kind == "file" and (len(checked) != 1 or checked[0][0] != name):
        raise ValueError("file entry")
    if len({relative for relative, _ in checked}) != len(checked):
        raise ValueError("duplicate entry")
    return FileList(files_kind, name, tuple(checked))


def _optional_key(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 512):
        raise ValueError("key")
    return value


def _optional_moment(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(value)
    return float(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(value)
    return value
