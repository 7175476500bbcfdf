"""The transfer's known errors: each a sentence for the user; nothing was changed."""

from __future__ import annotations

from peft_studio_offline.core.errors import PeftStudioOfflineError


class TransferError(PeftStudioOfflineError):
    """A bundle or receipt could not be written or read; the message says why."""


class BundleError(TransferError):
    """A bundle is damaged, incomplete, of an unknown version or unsafe; nothing was imported."""


class ReceiptError(TransferError):
    """A receipt cannot be read; nothing was marked."""
