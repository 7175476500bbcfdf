"""A bundle's manifest: what it holds, in words a person can read, and every part's hash.

``MANIFEST.json`` is written last, once every part is complete: a bundle without one was
never finished. The format version says how the parts are laid out; a reader refuses a
version newer than it knows rather than guessing, and reads every older one. Version 2
records carry deduplication keys, expiry and earliest start; a bundle none of whose
operations has them is written as version 1, which older apps read too.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from peft_studio_offline.core.paths import write_private_file
from peft_studio_offline.core.transfer._errors import BundleError

FORMAT = "peft-studio-offline-bundle"
FORMAT_VERSION = 2
MANIFEST_NAME = "MANIFEST.json"
PART_PREFIX = "bundle.tar."
# A part's name as the manifest may give it: never a path.
_PART_NAME = re.compile(r"^bundle\.tar\.[0-9]{5}$")
_BUNDLE_ID = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A manifest larger than this is not one of ours (100,000 parts would be ~15 MB).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PartInfo:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    bundle_id: str
    created_at: str
    operations: int
    operations_by_type: dict[str, int]
    files: int
    file_bytes: int
    parts: tuple[PartInfo, ...]
    part_size: int | None = None
    source: dict[str, Any] = field(default_factory=dict)
    encryption: str | None = None  # "age": the archive was encrypted before it was cut
    format_version: int = FORMAT_VERSION

    @property
    def bundle_bytes(self) -> int:
        return sum(part.size for part in self.parts)

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "format_version": self.format_version,
            "about": "Operations queued offline by PEFT Studio Offline, for"
            " 'peft-studio-offline bundle import' on a connected machine. The parts, in"
            " order, form one tar archive.",
            **{k: v for k, v in asdict(self).items() if k != "format_version"},
            "parts": [asdict(part) for part in self.parts],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def write(self, folder: Path) -> None:
        write_private_file(folder / MANIFEST_NAME, self.to_json().encode())


def part_name(index: int) -> str:
    return f"{PART_PREFIX}{index:05d}"


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the bundle in ``folder``, or ``BundleError`` naming what is wrong."""
    where = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise BundleError(f"There is no bundle at {folder}: it is not a folder.")
    try:
        size = where.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise BundleError(f"The manifest {where} is too large to be a bundle's manifest.")
        data = json.loads(where.read_bytes())
    except FileNotFoundError:
        raise BundleError(
            f"The bundle {folder} has no manifest ({MANIFEST_NAME}): it is incomplete or not"
            " a bundle; nothing was imported."
        ) from None
    except OSError as exc:
        raise BundleError(f"The manifest {where} cannot be read ({exc.strerror}).") from None
    except ValueError:
        raise BundleError(
            f"The manifest {where} is damaged or truncated (it is not complete JSON);"
            " nothing was imported."
        ) from None
    return _parse(data, where)


def _parse(data: object, where: Path) -> Manifest:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"{where} is not the manifest of a PEFT Studio Offline bundle.")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"The manifest {where} has no valid format version.")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"The bundle {where.parent} uses format version {version}, newer than this app"
            f" reads (up to {FORMAT_VERSION}); update PEFT Studio Offline to import it."
            " Nothing was imported."
        )
    try:
        parts = tuple(_part(item) for item in data["parts"])
        manifest = Manifest(
            bundle_id=_text(data["bundle_id"], _BUNDLE_ID),
            created_at=str(data["created_at"]),
            operations=_count(data["operations"]),
            operations_by_type={str(k): _count(v) for k, v in data["operations_by_type"].items()},
            files=_count(data["files"]),
            file_bytes=_count(data["file_bytes"]),
            parts=parts,
            part_size=None if data.get("part_size") is None else _count(data["part_size"]),
            source=dict(data.get("source") or {}),
            encryption=None if data.get("encryption") is None else str(data["encryption"]),
            format_version=version,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BundleError(
            f"The manifest {where} is incomplete or has values of the wrong kind;"
            " nothing was imported."
        ) from None
    if not parts:
        raise BundleError(f"The manifest {where} lists no parts.")
    if manifest.encryption not in (None, "age"):
        raise BundleError(
            f"The bundle {where.parent} is encrypted as {manifest.encryption!r}, which this"
            " app does not read; nothing was imported."
        )
    if [p.name for p in parts] != [part_name(i) for i in range(1, len(parts) + 1)]:
        raise BundleError(f"The manifest {where} lists parts out of order or under odd names.")
    return manifest


def _part(item: Any) -> PartInfo:
    return PartInfo(
        name=_text(item["name"], _PART_NAME),
        size=_count(item["size"]),
        sha256=_text(item["sha256"], _SHA256),
    )


def _text(value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(value)
    return value


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(value)
    return value
