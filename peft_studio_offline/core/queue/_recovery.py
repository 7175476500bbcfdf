"""The way forward from a damaged queue database: keep it aside, start a new one.

Opening a file that is not a readable queue raises ``CorruptDatabaseError`` and leaves the
file exactly as it was. When the user chooses to go on, ``move_aside_corrupt_database``
renames it (with its ``-wal`` and ``-shm`` companions, which belong to it) to
``queue.db.corrupt-YYYYmmdd-HHMMSS`` in the same folder, so nothing is deleted and a
fresh queue can be created at the original path. It moves nothing else: not a folder, a
link or a device, and not a database that SQLite reads and checks clean, since moving that
aside would strand every operation in it.
"""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

from peft_studio_offline.core.errors import CorruptDatabaseError, QueueError
from peft_studio_offline.core.queue._database import check_file, damage_found_by_sqlite

# SQLite keeps these next to the database; moved with it, they stay usable together.
_COMPANIONS = ("-wal", "-shm", "-journal")


def move_aside_corrupt_database(db_path: str | Path, *, when: datetime | None = None) -> Path:
    """Rename a damaged queue database out of the way; returns where it is now.

    No queue may have the file open. Raises ``QueueError`` when there is no file to move or
    it cannot be renamed; nothing is deleted or overwritten in any case.
    """
    path = Path(db_path).expanduser()
    _refuse_what_is_not_damaged(path)
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = _free_name(path, f"{path.name}.corrupt-{stamp}")
    try:
        # The companions first: a database renamed without its WAL would lose commits.
        for suffix in _COMPANIONS:
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                companion.rename(target.with_name(target.name + suffix))
        path.rename(target)
    except OSError as exc:
        raise QueueError(
            f"The queue database {path} could not be moved aside to {target}: {exc.strerror}."
        ) from exc
    return target


def _refuse_what_is_not_damaged(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        raise QueueError(f"There is no queue database at {path} to move aside.") from None
    except OSError as exc:
        raise QueueError(f"{path} cannot be read ({exc.strerror}); nothing was moved.") from exc
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a link" if stat.S_ISLNK(mode) else "no file"
        raise QueueError(f"{path} is {what}, not a queue database; nothing was moved.")
    try:
        check_file(path)
    except CorruptDatabaseError:
        return
    if damage_found_by_sqlite(path) == "":
        raise QueueError(
            f"The queue database {path} opens and checks clean, so it was not moved aside:"
            " its operations would no longer be sent."
        )


def _free_name(path: Path, name: str) -> Path:
    """``name`` in the file's folder, or ``name-2``, ``name-3``... if it is taken."""
    candidate = path.with_name(name)
    counter = 2
    while any(
        candidate.with_name(candidate.name + suffix).exists() for suffix in ("", *_COMPANIONS)
    ):
        candidate = path.with_name(f"{name}-{counter}")
        counter += 1
    return candidate
