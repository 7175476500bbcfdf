"""``bundle export|import`` and ``receipt export|import`` over the runtime's transfer."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from peft_studio_offline.cli import _format as fmt
from peft_studio_offline.cli._commands import OK, out
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.transfer import ExportOptions, TransferProgress


def _progress(bar: fmt.ProgressBar) -> Callable[[TransferProgress], None]:
    def report(step: TransferProgress) -> None:
        if step.phase == "verifying" and step.total_bytes:
            bar.update(step.done_bytes, step.total_bytes, "checking parts")
        elif step.total_operations is not None:
            bar.update(step.operations, step.total_operations, f"{step.phase} operations")

    return report


def export_options(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions.of(
        everything=args.everything,
        statuses=args.status,
        operation_types=args.type,
        part_size=args.part_size,
        recipients=args.recipient or (),
        without_secrets=args.without_secrets,
    )


async def bundle(args: argparse.Namespace, runtime: Runtime) -> int:
    bar = fmt.ProgressBar()
    report = _progress(bar)
    try:
        if args.action == "export":
            result = await runtime.export_bundle(args.path, export_options(args), progress=report)
        else:
            imported = await runtime.import_bundle(
                args.path, identities=args.identity or (), progress=report
            )
    finally:
        bar.close()
    if args.action == "export":
        if args.json:
            out(json.dumps(result.as_dict()))
        else:
            out(
                f"Exported {fmt.count(result.operations, 'operation')}"
                f" ({fmt.count(result.files, 'file')}, {fmt.size(result.file_bytes)}) into"
                f" {result.path}, {fmt.count(len(result.parts), 'part')}; they now wait for a"
                " receipt."
                + (f" {result.left_out} holding secrets stayed here." if result.left_out else "")
            )
        return OK
    if args.json:
        out(json.dumps(imported.as_dict()))
    else:
        out(
            f"Imported {imported.added:,} of the bundle's"
            f" {fmt.count(imported.operations, 'operation')};"
            f" {fmt.were(imported.already_here)} already here."
        )
        if imported.expired:
            out(
                f"{fmt.count(imported.expired, 'operation')} had run out of time to live on"
                " the way: kept as expired, not to be sent."
            )
        if imported.deduplicated:
            out(
                f"{fmt.were(imported.deduplicated)} not added: an unfinished operation here"
                " has the same dedup key."
            )
        if imported.unknown_dependencies:
            out(
                f"{fmt.count(imported.unknown_dependencies, 'dependency', 'dependencies')}"
                " named operations this queue never had; those operations do not wait for"
                " them."
            )
    return OK


async def receipt(args: argparse.Namespace, runtime: Runtime) -> int:
    if args.action == "export":
        result = await runtime.export_receipt(args.path, everything=args.everything)
        if args.json:
            out(json.dumps(result.as_dict()))
        else:
            out(
                f"Wrote a receipt of {fmt.count(result.deliveries, 'delivered operation')}"
                f" to {result.path}."
            )
        return OK
    result = await runtime.import_receipt(args.path)
    if args.json:
        out(json.dumps(result.as_dict()))
    else:
        out(
            f"Completed {fmt.count(result.completed, 'operation')};"
            f" {fmt.were(result.already_completed)} already completed, and"
            f" {result.unknown:,} {'is' if result.unknown == 1 else 'are'} not in this queue."
        )
    return OK
