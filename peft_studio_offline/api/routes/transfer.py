"""Transfer endpoints: bundles out and in, receipts out and in (``core.transfer``).

Paths are on this machine and must be absolute: the API serves programs, not a shell
with a current folder. Each call answers when the work is done; a damaged bundle or
receipt is a 422 whose sentence names what is wrong, and nothing was imported.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from peft_studio_offline.api.deps import runtime_of
from peft_studio_offline.core.enums import OperationType

router = APIRouter(tags=["transfer"])

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


class BundleImportRequest(_PathRequest):
    identity_files: list[PathText] | None = None


class ReceiptExportRequest(_PathRequest):
    all: bool = False


@router.post("/transfer/bundles/export")
async def export_bundle(body: BundleExportRequest, request: Request) -> dict[str, Any]:
    """Write the operations not exported yet (``all``: those awaiting a receipt and failed
    ones too), with their files, into a new or empty folder; they then await a receipt."""
    result = await runtime_of(request).export_bundle(
        body.path,
        everything=body.all,
        statuses=body.statuses,
        operation_types=body.types,
        part_size=body.part_size,
        recipients=body.recipients or (),
    )
    return result.as_dict()


@router.post("/transfer/bundles/import")
async def import_bundle(body: BundleImportRequest, request: Request) -> dict[str, Any]:
    """Check every part of a bundle, then queue the operations this queue lacks; an
    encrypted bundle needs ``identity_files`` (files of age secret keys)."""
    runtime = runtime_of(request)
    result = await runtime.import_bundle(body.path, identities=body.identity_files or ())
    return result.as_dict()


@router.post("/transfer/receipts/export")
async def export_receipt(body: ReceiptExportRequest, request: Request) -> dict[str, Any]:
    """Write what was delivered of the imported work (``all``: every completed operation)."""
    return (await runtime_of(request).export_receipt(body.path, everything=body.all)).as_dict()


@router.post("/transfer/receipts/import")
async def import_receipt(body: _PathRequest, request: Request) -> dict[str, Any]:
    """Complete the operations a receipt names; any other is left as it is."""
    return (await runtime_of(request).import_receipt(body.path)).as_dict()
