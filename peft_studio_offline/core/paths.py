"""Where the application keeps its files, and how files holding private data are written.

Platform conventions by default (platformdirs); ``PEFT_STUDIO_OFFLINE_HOME=<dir>`` puts
everything under one folder instead (portable use and tests). The variable is read when
``AppPaths.from_environment()`` is called, never at import.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "peft-studio-offline"
HOME_VARIABLE = "PEFT_STUDIO_OFFLINE_HOME"

DATABASE_FILE = "queue.db"
TOKEN_FILE = "api-token"
SETTINGS_FILE = "settings.toml"
CREDENTIALS_FILE = "credentials.toml"
LOG_FILE = "peft-studio-offline.log"

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


@dataclass(frozen=True, slots=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        home = env.get(HOME_VARIABLE, "").strip()
        if home:
            return cls.under(Path(home))
        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

    @classmethod
    def under(cls, root: Path) -> AppPaths:
        """Every folder under one root: the portable layout of ``PEFT_STUDIO_OFFLINE_HOME``."""
        root = root.expanduser()
        return cls(root / "data", root / "config", root / "logs", root / "cache")

    @property
    def database(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def token_file(self) -> Path:
        return self.data_dir / TOKEN_FILE

    @property
    def settings_file(self) -> Path:
        return self.config_dir / SETTINGS_FILE

    @property
    def credentials_file(self) -> Path:
        """Secrets kept here only where no system keyring can be used."""
        return self.config_dir / CREDENTIALS_FILE

    @property
    def log_file(self) -> Path:
        return self.log_dir / LOG_FILE

    def as_dict(self) -> dict[str, Path]:
        """Every folder and well-known file, for "where are my files" displays."""
        return {
            "data_dir": self.data_dir,
            "config_dir": self.config_dir,
            "log_dir": self.log_dir,
            "cache_dir": self.cache_dir,
            "database": self.database,
            "token_file": self.token_file,
            "settings_file": self.settings_file,
            "credentials_file": self.credentials_file,
            "log_file": self.log_file,
        }


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents); a folder created here is readable by the user alone.

    A folder that already exists keeps its permissions: the user may have chosen them.
    """
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        if sys.platform != "win32":
            with contextlib.suppress(OSError):
                path.chmod(PRIVATE_DIR_MODE)
    return path


def is_private(path: Path) -> bool:
    """True when neither the group nor others may read, write or enter ``path``."""
    if sys.platform == "win32":  # permissions there are ACLs, set per user by default
        return True
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable and writable by the user alone.

    The bytes go to a temporary file in the same folder (created 0600), are flushed to disk,
    then renamed over the target: a crash leaves either the old file or the new one, never
    half of each.
    """
    ensure_private_dir(path.parent)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if sys.platform != "win32":
            temp.chmod(PRIVATE_FILE_MODE)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); Windows has no directory handles to sync."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
