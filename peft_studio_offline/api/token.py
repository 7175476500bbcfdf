"""The API token: made at first start, kept in a file only the user can read."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.paths import ensure_private_dir

_MIN_LENGTH = 32


class TokenFileError(PeftStudioOfflineError):
    """The token file cannot be read or written."""


def load_or_create_token(path: Path) -> str:
    """Return the token in ``path``, creating the file (mode 0600) when there is none.

    A file that other users can read is tightened to 0600; one too short to be a token
    (empty, truncated by a crash) is replaced.
    """
    existing = read_token(path)
    if existing is not None:
        _tighten(path)
        return existing
    ensure_private_dir(path.parent)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # Two processes starting at once: the first file to land wins, both use it.
            os.link(tmp, path)
        except FileExistsError:
            winner = read_token(path)
            if winner is not None:
                return winner
            tmp.replace(path)
    except OSError as exc:
        raise TokenFileError(f"The API token file {path} cannot be written ({exc}).") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return token


def read_token(path: Path) -> str | None:
    """The token in ``path``, or None when the file is missing or holds no usable token."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenFileError(f"The API token file {path} cannot be read ({exc}).") from exc
    return text if len(text) >= _MIN_LENGTH and text.isprintable() else None


def _tighten(path: Path) -> None:
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
