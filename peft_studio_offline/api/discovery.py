"""The small file a serving process leaves in the data directory so that clients find it.

It holds the URL and the process id, never the token (that stays in its own 0600 file).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from peft_studio_offline.core.paths import ensure_private_dir

SERVER_FILE = "api-server.json"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    url: str
    pid: int


def server_file(data_dir: Path) -> Path:
    return data_dir / SERVER_FILE


def write_server_info(path: Path, url: str) -> None:
    """Atomically record that this process serves the API at ``url``."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": os.getpid()}, handle)
    tmp.replace(path)


def remove_server_info(path: Path) -> None:
    """Remove the file if this process wrote it (another server may have taken over)."""
    info = read_server_info(path, check_alive=False)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def read_server_info(path: Path, *, check_alive: bool = True) -> ServerInfo | None:
    """The running server's URL, or None (no file, unreadable, or its process is gone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        url, pid = data["url"], data["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    if check_alive and not _alive(pid):
        return None
    return ServerInfo(url, pid)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send Ctrl+C there; the client's timeout copes
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True
