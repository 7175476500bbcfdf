"""Where the application keeps its files.

Platform conventions by default (platformdirs); ``PEFT_STUDIO_OFFLINE_HOME=<dir>`` puts
everything under one folder instead (portable use and tests). The variable is read when
``AppPaths.from_environment()`` is called, never at import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "peft-studio-offline"
HOME_VARIABLE = "PEFT_STUDIO_OFFLINE_HOME"

DATABASE_FILE = "queue.db"
TOKEN_FILE = "api-token"
SETTINGS_FILE = "settings.toml"
LOG_FILE = "peft-studio-offline.log"


@dataclass(frozen=True, slots=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @classmethod
    def from_environment(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        home = env.get(HOME_VARIABLE, "").strip()
        if home:
            root = Path(home).expanduser()
            return cls(root / "data", root / "config", root / "logs", root / "cache")
        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
            Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        )

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
    def log_file(self) -> Path:
        return self.log_dir / LOG_FILE


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the user alone where we create it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
