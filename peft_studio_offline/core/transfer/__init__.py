"""The air-gapped round trip: transfer bundles out, receipts back.

On a machine without a network, ``export_bundle`` writes the operations not yet exported,
with the bytes of every file they send, into a folder of checked parts and a manifest; they
then wait as ``exported`` (awaiting a receipt). On a connected machine, ``import_bundle``
checks every part first and adds the operations under the keys they already had, so any
bundle may be imported twice; ``export_receipt`` reports what was delivered, and
``import_receipt`` back on the first machine completes exactly those operations.
"""

from peft_studio_offline.core.transfer._errors import BundleError, ReceiptError, TransferError
from peft_studio_offline.core.transfer._export import (
    ExportResult,
    TransferProgress,
    export_bundle,
    export_statuses,
)
from peft_studio_offline.core.transfer._import import ImportResult, import_bundle
from peft_studio_offline.core.transfer._manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest
from peft_studio_offline.core.transfer._options import ExportOptions
from peft_studio_offline.core.transfer._receipts import (
    ReceiptResult,
    export_receipt,
    import_receipt,
)
from peft_studio_offline.core.transfer._staging import (
    export_roots,
    remove_unneeded_staged,
    tidy_staged,
)
from peft_studio_offline.core.upload_roots import sendable_roots, transfers_root

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "BundleError",
    "ExportOptions",
    "ExportResult",
    "ImportResult",
    "Manifest",
    "ReceiptError",
    "ReceiptResult",
    "TransferError",
    "TransferProgress",
    "export_bundle",
    "export_receipt",
    "export_roots",
    "export_statuses",
    "import_bundle",
    "import_receipt",
    "remove_unneeded_staged",
    "sendable_roots",
    "tidy_staged",
    "transfers_root",
]
