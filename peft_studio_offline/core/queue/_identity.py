"""Who holds a lease: host, process and queue instance, and whether that holder is gone."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

HOST = socket.gethostname()

# Owners of queue instances open in this process: a lease of this pid whose owner is not
# here belonged to an instance that was closed or lost, and can be taken back.
_LIVE_OWNERS: set[str] = set()


def new_owner() -> str:
    owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    _LIVE_OWNERS.add(owner)
    return owner


def retire_owner(owner: str) -> None:
    _LIVE_OWNERS.discard(owner)


def owner_is_gone(owner: str | None) -> bool:
    """True when the lease holder certainly no longer runs (same host only)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != HOST or not pid_text.isdigit():
        return False  # another machine's process: only its lease expiry can free it
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _LIVE_OWNERS
    return not _process_alive(pid)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed child that nobody reaped yet still answers: a zombie holds nothing.
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    return fields[0] != "Z"
