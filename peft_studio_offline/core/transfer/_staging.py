"""Where imported files are kept: under the data directory, in a folder the app sends from.

Files that arrive in a bundle are placed under ``<data>/transfers/<import id>/``; the
bundle never chooses where. When the user limits uploads to some folders
(``sync.upload_roots``), this folder is allowed too, as the MLflow endpoint's staged
artifacts are: the app made these copies itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import Settings

TRANSFERS_FOLDER = "transfers"


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` with ``~`` expanded, made absolute (no link is resolved)."""
    return Path(path).expanduser().absolute()


def transfers_root(paths: AppPaths) -> Path:
    return paths.data_dir / TRANSFERS_FOLDER


def export_roots(settings: Settings, db_path: Path) -> tuple[str, ...]:
    """The folders an export of the queue at ``db_path`` may read files from: those sending
    them would, the MLflow endpoint's staged artifacts included."""
    from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for

    return sendable_roots(settings, staging_root_for(db_path))


def sendable_roots(settings: Settings, *extra: Path) -> tuple[str, ...]:
    """The folders files may leave from: the user's, plus the app's own copies (imported
    files, and ``extra`` such as staged artifacts) when the user named any."""
    roots = tuple(r for r in settings.sync.upload_roots if str(r).strip())
    if not roots:
        return ()
    return (*roots, str(transfers_root(settings.paths)), *(str(p) for p in extra))
