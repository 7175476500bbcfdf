"""The command line's grammar (argparse), with usage errors as one sentence and exit code 2."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.core.operation import PRIORITY_BOUNDS, check_priority

PROG = "peft-studio-offline"
USAGE_ERROR = 2


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        text = message[:1].upper() + message[1:]
        sys.stderr.write(f"{self.prog}: {text.rstrip('.')} (see '{self.prog} --help').\n")
        raise SystemExit(USAGE_ERROR)


def operation_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an operation id (a number)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not an operation id (ids start at 1)")
    if value > 2**63 - 1:
        raise argparse.ArgumentTypeError(
            f"{value} is not an operation id (ids go up to {2**63 - 1})"
        )
    return value


def priority(text: str) -> int:
    try:
        return check_priority(int(text))
    except ValueError:  # InvalidOperationError is one too
        raise argparse.ArgumentTypeError(
            f"the priority must be an integer {PRIORITY_BOUNDS}, not '{text}'"
        ) from None


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the port must be a number, not '{text}'") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"the port must be between 0 and 65535, not {value}")
    return value


def build_parser(version: str, self_test: bool) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="PEFT Studio Offline: queue network work while offline and sync it later."
        " Without a command, the desktop window opens.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version}")
    _add_db(parser, top=True)
    if self_test:
        parser.add_argument(
            "--self-test",
            action="store_true",
            help="check that this installation works (queue, sync, API) and exit",
        )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    enqueue = commands.add_parser("enqueue", help="add an operation to the queue")
    enqueue.add_argument("type", metavar="TYPE", help=_choices(OperationType))
    enqueue.add_argument(
        "payload",
        metavar="PAYLOAD_JSON",
        help="the payload, a JSON object; @FILE reads it from a file, - from standard input",
    )
    enqueue.add_argument("--priority", type=priority, default=0, help="higher runs first")
    enqueue.add_argument(
        "--max-attempts", type=int, metavar="N", help="tries before it fails for good"
    )
    enqueue.add_argument(
        "--ttl", type=float, metavar="SECONDS", help="expire unless sent within this time"
    )
    enqueue.add_argument(
        "--depends-on",
        type=operation_id,
        action="append",
        metavar="ID",
        help="send only after this operation completed; repeatable",
    )
    enqueue.add_argument(
        "--dedup-key",
        metavar="KEY",
        help="an unfinished operation with this key is not added again",
    )
    enqueue.add_argument(
        "--resource-key",
        metavar="KEY",
        help="operations with the same key are sent one after the other, in order",
    )
    enqueue.add_argument(
        "--conflict-strategy",
        metavar="S",
        help="one of: " + ", ".join(r.value for r in ConflictResolution),
    )
    _add_json(enqueue, 'print {"id": N}')

    listing = commands.add_parser("list", help="list queued operations")
    listing.add_argument("--status", action="append", metavar="S", help=_choices(OperationStatus))
    listing.add_argument("--type", action="append", metavar="T", help=_choices(OperationType))
    listing.add_argument("--limit", type=int, default=None, help="at most this many (newest)")
    _add_json(listing, "print a JSON array of operations")

    show = commands.add_parser("show", help="show one operation and its history")
    show.add_argument("id", type=operation_id, metavar="ID")
    _add_json(show, "print the operation as JSON")

    delete = commands.add_parser("delete", help="delete an operation")
    delete.add_argument("id", type=operation_id, metavar="ID")
    _add_json(delete, 'print {"id": N, "deleted": true}')

    stats = commands.add_parser("stats", help="count operations per status")
    _add_json(stats, "print the stats as a JSON object")

    sync = commands.add_parser("sync", help="send every operation that is due now, and wait")
    _add_json(sync, "print the sync result as JSON")

    status = commands.add_parser("status", help="network, queue and sync status")
    _add_json(status, "print the status as JSON")

    serve = commands.add_parser("serve", help="run the core and the HTTP API, without a window")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=None, help="port (0 picks a free one)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address",
    )
    serve.add_argument(
        "--tls-cert",
        default=None,
        metavar="FILE",
        help="serve HTTPS with this certificate (PEM; with --tls-key)",
    )
    serve.add_argument(
        "--tls-key", default=None, metavar="FILE", help="the certificate's private key (PEM)"
    )
    serve.add_argument(
        "--no-auto-sync", action="store_true", help="do not sync by itself (manual sync only)"
    )
    commands.add_parser(
        "mlflow-env",
        help="print the exports that send an unchanged MLflow script's logging to the queue",
    )
    run = commands.add_parser(
        "run",
        help="run a command (run -- python train.py) with MLflow's logging going to the queue,"
        " serving the local endpoint while it runs when no app does",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...")
    move_aside = commands.add_parser(
        "move-aside",
        help="keep an unreadable queue database aside (renamed) and start a new queue",
    )
    _add_json(move_aside, 'print {"moved_to": PATH}')
    rotate_key = commands.add_parser(
        "rotate-key",
        help="encrypt the secrets inside queued operations with a new key, and drop the old one",
    )
    _add_json(rotate_key, 'print {"key": ID}')
    cleanup = commands.add_parser(
        "cleanup",
        help="remove finished operations and staged files past their retention period"
        " (storage.retention_days, storage.failed_retention_days), and show the storage used",
    )
    _add_json(cleanup, "print what was removed and the storage used as a JSON object")
    for sub in (
        enqueue, listing, show, delete, stats, sync, status, serve, move_aside, run, rotate_key,
        cleanup,
    ):  # fmt: skip
        _add_db(sub, top=False)
    _add_transfer(commands)
    return parser


def part_size(text: str) -> int:
    """``4G`` (decimal units: fits FAT32's 4 GiB limit), ``700M``, ``2GiB``, or bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(i?)B?\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"the part size must be a number of bytes or like 4G, 700M or 2GiB, not '{text}'"
        )
    number, unit, binary = match.groups()
    power = "KMGT".find(unit.upper()) + 1 if unit else 0
    value = int(float(number) * (1024 if binary else 1000) ** power)
    if value < 1_000_000:  # core.transfer's MIN_PART_SIZE
        raise argparse.ArgumentTypeError(f"a part must be at least 1M, not '{text}'")
    return value


def exportable_status(text: str) -> str:
    allowed = ("pending", "exported", "failed")
    if text not in allowed:
        raise argparse.ArgumentTypeError(
            f"operations that are '{text}' cannot be exported (choose {', '.join(allowed)})"
        )
    return text


def operation_type(text: str) -> str:
    if text not in {t.value for t in OperationType}:
        raise argparse.ArgumentTypeError(f"unknown type '{text}' ({_choices(OperationType)})")
    return text


def _add_transfer(commands: argparse._SubParsersAction[_Parser]) -> None:
    """``bundle export|import`` and ``receipt export|import``: the air-gapped round trip."""
    _add_export_import(
        commands,
        "bundle",
        "carry queued work to a connected machine on a drive (export, import)",
        _Action(
            "write the operations not exported yet, with their files, into a bundle folder",
            "a new or empty folder for the bundle",
            _bundle_export_options,
        ),
        _Action(
            "check a bundle whole, then queue the operations this queue lacks",
            "the bundle folder",
            _bundle_import_options,
        ),
    )
    _add_export_import(
        commands,
        "receipt",
        "carry back what was delivered, to complete it where it was made",
        _Action(
            "write what was delivered of the imported work into a receipt file",
            "the receipt file to write",
            _receipt_export_options,
        ),
        _Action("mark the operations a receipt names as completed", "the receipt file"),
    )


@dataclass(frozen=True)
class _Action:
    """One side of an export/import pair: its help, its path's, and its own options."""

    help: str
    path_help: str
    options: Callable[[argparse.ArgumentParser], None] | None = None


def _add_export_import(
    commands: argparse._SubParsersAction[_Parser],
    name: str,
    help: str,  # argparse's own word
    export: _Action,
    imports: _Action,
) -> None:
    """A command with an ``export`` and an ``import`` action, each taking a PATH, its own
    options, ``--json`` and ``--db``."""
    command = commands.add_parser(name, help=help)
    actions = command.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, required=True
    )
    for action, spec in (("export", export), ("import", imports)):
        sub = actions.add_parser(action, help=spec.help)
        sub.add_argument("path", metavar="PATH", help=spec.path_help)
        if spec.options is not None:
            spec.options(sub)
        _add_json(sub, "print the result as JSON")
        _add_db(sub, top=False)


def _bundle_export_options(export: argparse.ArgumentParser) -> None:
    export.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="also those exported before and still awaiting a receipt, and failed ones",
    )
    export.add_argument(
        "--status",
        action="append",
        type=exportable_status,
        metavar="S",
        help="only operations of this status (pending, exported, failed); repeatable",
    )
    export.add_argument(
        "--type", action="append", type=operation_type, metavar="T", help="only this type"
    )
    export.add_argument(
        "--part-size",
        type=part_size,
        default=None,
        metavar="SIZE",
        help="split into parts of at most SIZE (4G suits FAT32 drives)",
    )
    export.add_argument(
        "--recipient",
        action="append",
        metavar="KEY",
        help="encrypt to this age (age1...) or SSH public key; repeatable",
    )
    export.add_argument(
        "--without-secrets",
        action="store_true",
        help="keep operations holding secrets here instead of refusing an unencrypted bundle",
    )


def _bundle_import_options(imports: argparse.ArgumentParser) -> None:
    imports.add_argument(
        "--identity",
        action="append",
        metavar="FILE",
        help="a file of age secret keys (age-keygen's), for an encrypted bundle; repeatable",
    )


def _receipt_export_options(export: argparse.ArgumentParser) -> None:
    export.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="every completed operation, not only those that came in a bundle",
    )


def _add_db(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None if top else argparse.SUPPRESS,
        help="the queue database (default: queue.db in the data directory)",
    )


def _add_json(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--json", action="store_true", help=text)


def _choices(enum: type[OperationType] | type[OperationStatus]) -> str:
    return "one of: " + ", ".join(member.value for member in enum)
