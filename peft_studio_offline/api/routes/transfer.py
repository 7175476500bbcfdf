"""Transfer endpoints: bundles out and in, receipts out and in (``core.transfer``).

Paths are on this machine and must be absolute: the API serves programs, not a shell
with a current folder. Any program holding the token may call it, so, as for uploads,
bundles, receipts and identity files are read and written only inside ``sync.upload_roots``
(a 403 with a sentence otherwise, and with none listed). Each call answers when the work is
done; a damaged bundle or receipt is a 422 whose sentence names what is wrong, and nothing
was imported.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from peft_studio_offline.api.deps import runtime_of
from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import UploadNotAllowedError
from peft_studio_offline.core.outgoing_files import OutsideRootsError, outgoing_path
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.transfer import ExportOptions

router = APIRouter(tags=["transfer"])

NO_FOLDERS_OVER_API = (
    "Over the local API, bundles and receipts are read and written only inside the folders"
    " listed in sync.upload_roots, and none are set in settings.toml."
)


def allowed(request: Request, *paths: str) -> Runtime:
    """The runtime, once every path is inside ``sync.upload_roots``; 403 otherwise."""
    runtime = runtime_of(request)
    roots = tuple(r for r in runtime.settings.sync.upload_roots if str(r).strip())
    if not roots:
        raise UploadNotAllowedError(NO_FOLDERS_OVER_API, field="path")
    for path in paths:
        try:
            outgoing_path(path, roots)
        except OutsideRootsError:
            raise UploadNotAllowedError(
                f"{path} is outside the folders allowed over the local API"
                " (settings sync.upload_roots).",
                field="path",
            ) from None
    return runtime


PathText = Annotated[str, Field(min_length=1, max_length=4096)]


class _PathRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: PathText

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if "\x00" in value or not PurePath(value).is_absolute():
            raise ValueError("the path must be an absolute path on this machine")
        return value


class BundleExportRequest(_PathRequest):
    all: bool = False
    statuses: list[Annotated[str, Field(pattern="^(pending|exported|failed)$")]] | None = None
    types: list[OperationType] | None = None
    part_size: Annotated[int, Field(ge=1_000_000)] | None = None
    recipients: list[Annotated[str, Field(min_length=1, max_length=4096)]] | None = None
    without_secrets: bool = False

    def options(self) -> ExportOptions:
        return ExportOptions.of(
            everything=self.all,
            statuses=self.statuses,
            operation_types=self.types,
            part_size=self.part_size,
            recipients=self.recipients or (),
            without_secrets=self.without_secrets,
        )


class BundleImportRequest(_PathRequest):
    identity_files: list[PathText] | None = None


class ReceiptExportRequest(_PathRequest):
    all: bool = False


@router.post("/transfer/bundles/export")
async def export_bundle(body: BundleExportRequest, request: Request) -> dict[str, Any]:
    """Write the operations not exported yet (``all``: those awaiting a receipt and failed
    ones too), with their files, into a new or empty folder; they then await a receipt."""
    runtime = allowed(request, body.path)
    result = await runtime.export_bundle(body.path, body.options())
    return result.as_dict()


@router.post("/transfer/bundles/import")
async def import_bundle(body: BundleImportRequest, request: Request) -> dict[str, Any]:
    """Check every part of a bundle, then queue the operations this queue lacks; an
    encrypted bundle needs ``identity_files`` (files of age secret keys)."""
    runtime = allowed(request, body.path, *(body.identity_files or ()))
    result = await runtime.import_bundle(body.path, identities=body.identity_files or ())
    return result.as_dict()


@router.post("/transfer/receipts/export")
async def export_receipt(body: ReceiptExportRequest, request: Request) -> dict[str, Any]:
    """Write what was delivered of the imported work (``all``: every completed operation)."""
    runtime = allowed(request, body.path)
    return (await runtime.export_receipt(body.path, everything=body.all)).as_dict()


@router.post("/transfer/receipts/import")
async def import_receipt(body: _PathRequest, request: Request) -> dict[str, Any]:
    """Complete the operations a receipt names; any other is left as it is."""
    return (await allowed(request, body.path).import_receipt(body.path)).as_dict()
