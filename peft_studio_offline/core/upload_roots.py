"""The folders files may leave this machine from: the user's, and the app's own copies.

Used by every handler that sends files and by transfer bundles; kept apart from both so
that neither has to import the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peft_studio_offline.core.paths import AppPaths
    from peft_studio_offline.core.settings import Settings

TRANSFERS_FOLDER = "transfers"


def transfers_root(paths: AppPaths) -> Path:
    """Where imported bundles' files are staged, under the data folder."""
    return paths.data_dir / TRANSFERS_FOLDER


def sendable_roots(settings: Settings, *extra: Path) -> tuple[str, ...]:
    """The folders files may leave from: the user's, plus the app's own copies (imported
    files, and ``extra`` such as staged artifacts) when the user named any."""
    roots = tuple(r for r in settings.sync.upload_roots if str(r).strip())
    if not roots:
        return ()
    return (*roots, str(transfers_root(settings.paths)), *(str(p) for p in extra))
