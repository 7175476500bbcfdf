"""One error root for the package.

Known errors (bad input, a full disk, a locked or corrupt database, no network) carry a
sentence meant for the user. Anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations

from pathlib import Path


class PeftStudioOfflineError(Exception):
    """Root of every error this package raises on purpose."""


class InvalidOperationError(PeftStudioOfflineError, ValueError):
    """The caller's input is not acceptable; nothing was written.

    ``field`` names the input at fault when one is (``payload.url``), for answers that
    point at it (the HTTP API's 422).
    """

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UploadNotAllowedError(InvalidOperationError):
    """A payload names a local file outside the folders allowed for uploads."""


class OperationNotFoundError(PeftStudioOfflineError, LookupError):
    """No operation has that id."""

    def __init__(self, op_id: int) -> None:
        super().__init__(f"No operation with id {op_id}.")
        self.op_id = op_id


class InvalidStateError(PeftStudioOfflineError):
    """The operation is not in a status that allows what was asked."""


class QueueError(PeftStudioOfflineError):
    """The queue database could not do what was asked."""


class QueueFullError(QueueError, InvalidOperationError):
    """The queue holds as many unfinished operations as it is allowed to."""


class StorageFullError(QueueError):
    """The disk (or the database's size limit) has no room; nothing was written."""


class StorageBudgetError(StorageFullError):
    """The data directory holds as many bytes as its storage budget allows; nothing was
    written (``storage.max_bytes`` in the settings)."""


class QueueLockedError(QueueError):
    """Another process held the database for longer than the busy timeout."""


class QueueClosedError(QueueError):
    """The queue was closed."""


class CorruptDatabaseError(QueueError):
    """The file at the database path is not a readable queue database."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"The queue database {path} cannot be read ({detail}); it was left untouched."
        )
        self.path = path
        self.detail = detail


class SettingsError(PeftStudioOfflineError, ValueError):
    """The settings file or an environment variable holds a value that is not valid."""
