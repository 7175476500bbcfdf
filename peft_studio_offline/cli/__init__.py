"""The ``peft-studio-offline`` command: the window without arguments, else a subcommand.

Heavy imports (FastAPI for ``serve``, PySide6 for the window) happen only in the commands
that need them, so that ``list`` or ``stats`` answer quickly. Environment variables are read
when a command runs, never at import.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from peft_studio_offline.cli._parser import PROG, USAGE_ERROR, UsageError, build_parser
from peft_studio_offline.cli._qt_arguments import split_qt_arguments

if TYPE_CHECKING:
    from peft_studio_offline.core.settings import Settings

log = logging.getLogger(__name__)

FAILED = 1
BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader left

# Commands that only read or change what exists: on a --db path with no queue they say so
# instead of creating an empty database there (a mistyped path would hide the real queue).
NEEDS_EXISTING_QUEUE = frozenset(
    {"list", "show", "stats", "status", "sync", "delete", "move-aside", "rotate-key", "cleanup"}
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 failed, 2 usage error)."""
    from peft_studio_offline._version import __version__

    args_list = list(sys.argv[1:] if argv is None else argv)
    # Qt's own options (-reverse, -platform NAME, -style NAME...) are the window's.
    ours, qt_options = split_qt_arguments(args_list)
    if not ours:
        return _window(args_list)
    has_self_test = importlib.util.find_spec("peft_studio_offline.selftest") is not None
    parser = build_parser(__version__, has_self_test)
    args = parser.parse_args(ours)
    if qt_options and args.command is not None:
        args = parser.parse_args(args_list)  # refused as usual: a command takes none of them
    if getattr(args, "self_test", False):
        return _quiet_on_closed_pipe(_self_test)
    if args.command is None:
        return _window(args_list)
    try:
        return _quiet_on_closed_pipe(lambda: asyncio.run(_run(args)))
    except UsageError as exc:
        _error(str(exc), f" (see '{PROG} {args.command} --help')")
        return USAGE_ERROR
    except KeyboardInterrupt:
        _error("Interrupted.")
        return 130


async def _run(args: argparse.Namespace) -> int:
    from peft_studio_offline.cli._commands import COMMANDS
    from peft_studio_offline.core.errors import CorruptDatabaseError, PeftStudioOfflineError
    from peft_studio_offline.core.runtime import Runtime, set_runtime
    from peft_studio_offline.core.settings import Settings

    command: str = args.command
    missing = _missing_queue(command, getattr(args, "db", None))
    if missing is not None:
        _error(f"There is no queue database at {missing}; nothing was created")
        return FAILED
    settings = Settings.load()
    log_file = _configure_logging(settings)
    runtime = Runtime(settings, db_path=getattr(args, "db", None))
    set_runtime(runtime)
    try:
        if command == "serve":
            from peft_studio_offline.cli._serve import serve

            return await serve(args, runtime)
        if command in ("bundle", "receipt"):
            from peft_studio_offline.cli._transfer import bundle, receipt

            return await (bundle if command == "bundle" else receipt)(args, runtime)
        if command in ("mlflow-env", "run"):
            from peft_studio_offline.cli._mlflow import mlflow_env, run_command

            return await (mlflow_env if command == "mlflow-env" else run_command)(args, runtime)
        return await COMMANDS[command](args, runtime)
    except (UsageError, BrokenPipeError):
        raise
    except CorruptDatabaseError as exc:
        where = f" --db {shlex.quote(str(args.db))}" if getattr(args, "db", None) else ""
        _error(str(exc), f". Run '{PROG} move-aside{where}' to keep it aside and start a new queue")
        return FAILED
    except PeftStudioOfflineError as exc:
        _error(str(exc))
        return FAILED
    except ValueError as exc:  # bad input that a lower layer caught
        _error(str(exc))
        return FAILED
    except Exception as exc:
        log.exception("The command %s failed", command)
        where = f"; the details are in {log_file}" if log_file else ""
        _error(f"The command failed unexpectedly ({type(exc).__name__}: {exc}){where}.")
        return FAILED
    finally:
        try:
            await runtime.close()
        except Exception:
            log.exception("Closing failed")
        set_runtime(None)


def _configure_logging(settings: Settings) -> Path | None:
    """Log to the CLI's file (stderr stays for the one-sentence errors); the file's path."""
    from peft_studio_offline.core.logs import configure_logging

    try:
        return configure_logging(settings, entry_point="cli", capture_exceptions=False)
    except Exception:  # logging must never stop a command
        return None


def _window(argv: list[str]) -> int:
    """The desktop window, or one sentence saying why it cannot open."""
    chosen = any(a == "-platform" or a.startswith("-platform=") for a in argv)
    if sys.platform.startswith("linux") and not (
        chosen  # -platform offscreen (or vnc, eglfs...) needs no display
        or os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        _error(
            "The window cannot open: no display was found (DISPLAY is not set); use a"
            f" command instead, see '{PROG} --help'."
        )
        return FAILED
    try:
        from peft_studio_offline.gui.app import main as gui_main
    except ImportError as exc:
        _error(f"The window cannot open: Qt is not available ({exc}).")
        return FAILED
    result = gui_main(argv)
    return int(result or 0)


def _quiet_on_closed_pipe(command: Callable[[], int]) -> int:
    """Run ``command``; when the reader of our output has gone (``show 3 | head``), stop
    quietly with the shell's status for it, as ``cat`` and ``git`` do."""
    try:
        return command()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE


def _self_test() -> int:
    from peft_studio_offline.selftest import run_self_test

    return int(run_self_test() or 0)


def _error(message: str, hint: str = "") -> None:
    text = message.rstrip(".")
    sys.stderr.write(f"{PROG}: {text}{hint}.\n")
    sys.stderr.flush()


def _missing_queue(command: str, db: str | None) -> Path | None:
    """The --db path a command that needs an existing queue was given, when nothing is there
    (whatever is there, opening it decides whether it is a queue)."""
    if command not in NEEDS_EXISTING_QUEUE or db is None:
        return None
    path = Path(db).expanduser()
    return None if path.exists() else path
