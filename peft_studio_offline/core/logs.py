"""Logging, configured once per entry point, with secrets masked.

Each entry point (the window, ``serve``, the CLI) calls ``configure_logging`` once at start:
a rotating file in the log directory (user-only), console output for the command line, and a
filter on every handler that masks secrets (Authorization headers, bearer tokens, passwords,
``token=``/``api_key=`` values, passwords in URLs, and every value passed to
``register_secret``). Modules only ever do ``logging.getLogger(__name__)``.

Qt's own messages are routed here by the window with ``qt_message_handler`` (or
``log_qt_message``), which take plain values: the core never imports Qt.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from peft_studio_offline.core.paths import LOG_FILE, PRIVATE_FILE_MODE, ensure_private_dir

if TYPE_CHECKING:
    from peft_studio_offline.core.settings import Settings

log = logging.getLogger(__name__)

MASK = "***"
FILE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(process)d %(threadName)s] %(message)s"
CONSOLE_FORMAT = "%(levelname)s: %(message)s"
# Libraries that log every request or statement at INFO/DEBUG; their warnings still show.
_QUIET_LOGGERS = ("aiosqlite", "httpx", "httpcore", "asyncio", "multipart", "keyring")
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

# ------------------------------------------------------------------------ masking

_registered: set[str] = set()
_registered_lock = threading.Lock()
_known: tuple[str, ...] = ()  # the registered values, longest first (read without the lock)

_AUTH_HEADER = re.compile(
    r"""(?ix)
    (?P<key>["']?(?:proxy-)?authorization["']?\s*[:=]\s*)
    (?P<quote>["']?)
    (?P<scheme>(?:bearer|basic|token|digest|negotiate|apikey)\s+)?
    (?P<value>[^"'\s,;}\]]+)
    """
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
# A name holding one of the secret words, then ``:`` or ``=``, then its value. Names are
# matched only where a run of name characters starts (the lookbehind), and the word is
# found by a lookahead inside that run: each character is looked at a bounded number of
# times, so a long text without separators costs linear time, not cubic.
_SENSITIVE_VALUE = re.compile(
    r"""(?ix)
    (?P<key>(?P<q>["']?)
        (?<![\w.-])
        (?=[\w.-]*?(?:password|passwd|secret|token|api[_-]?key|apikey|private[_-]?key
                      |cookie|signature|credential))
        [\w.-]+
        (?P=q)\s*[:=]\s*)
    (?P<value>"[^"]*"|'[^']*'|[^\s&,;}\])]+)
    """
)
# Words without which ``_SENSITIVE_VALUE`` cannot match (``api_key``: both spellings).
_SENSITIVE_WORDS = (
    "passw", "secret", "token", "key", "cookie", "signature", "credential",
)  # fmt: skip
_URL_PASSWORD = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^/\s@]+)(@)")


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it would appear in a log line from now on."""
    global _known
    if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH:
        with _registered_lock:
            _registered.add(value)
            _known = tuple(sorted(_registered, key=len, reverse=True))


def registered_secrets() -> tuple[str, ...]:
    """The values given to ``register_secret``, longest first."""
    return _known


def forget_secrets() -> None:
    """Drop every registered value (tests; a long-lived process never needs it)."""
    global _known
    with _registered_lock:
        _registered.clear()
        _known = ()


def mask_log_text(text: str) -> str:
    """``text`` with every secret this module recognises replaced by ``***``."""
    for secret in _known:
        if secret in text:
            text = text.replace(secret, MASK)
    lowered = text.lower()  # each pattern runs only where its words appear (long texts)
    if "authorization" in lowered:
        text = _AUTH_HEADER.sub(_mask_auth_header, text)
    if "bearer" in lowered:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    if any(word in lowered for word in _SENSITIVE_WORDS):
        text = _SENSITIVE_VALUE.sub(_mask_value, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    return text


def _mask_auth_header(match: re.Match[str]) -> str:
    return match.group("key") + match.group("quote") + (match.group("scheme") or "") + MASK


def _mask_value(match: re.Match[str]) -> str:
    value = match.group("value")
    if value == MASK or value.strip("\"'") == MASK:
        return match.group(0)
    quote = value[0] if value[0] in "\"'" else ""
    return match.group("key") + quote + MASK + quote


class SecretFilter(logging.Filter):
    """Masks secrets in the message, its arguments, the traceback and the stack.

    Attached to handlers (not loggers) so that records from every logger pass through it.
    The record is rewritten in place, so every later handler sees the masked text too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg = mask_log_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_log_text(record.stack_info)
        return True


# ----------------------------------------------------------------------- handlers


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log file created readable by the user alone (logs name URLs and files)."""

    def _open(self) -> io.TextIOWrapper:
        def opener(path: str, flags: int) -> int:
            return os.open(path, flags, PRIVATE_FILE_MODE)

        return open(
            self.baseFilename, "a", encoding=self.encoding, errors=self.errors, opener=opener
        )


_OWN_HANDLER = "_peft_studio_offline_handler"
_state_lock = threading.Lock()
_previous_hooks: dict[str, Any] = {}


def log_file_for(log_dir: Path, entry_point: str) -> Path:
    """The log file of one entry point: the window's is the main one, others get their own.

    Separate files keep two processes (the window and a CLI command) from rotating the same
    file under each other.
    """
    if entry_point in ("gui", "app", ""):
        return log_dir / LOG_FILE
    stem = LOG_FILE.removesuffix(".log")
    return log_dir / f"{stem}-{entry_point}.log"


def configure_logging(
    settings: Settings | None = None,
    *,
    entry_point: str = "gui",
    console: bool = False,
    console_level: str | int = logging.WARNING,
    level: str | int | None = None,
    capture_exceptions: bool = True,
    stream: IO[str] | None = None,
) -> Path | None:
    """Set up logging for this process; returns the log file (None when it cannot be made).

    Calling it again replaces what an earlier call installed (handlers of other code are left
    alone). ``level`` defaults to ``settings.logging.level``; ``console`` adds a stderr
    handler at ``console_level`` (the CLI). ``capture_exceptions`` logs uncaught exceptions
    of any thread with their traceback before the usual report.
    """
    if settings is None:
        from peft_studio_offline.core.settings import Settings

        settings = Settings.load()
    file_level = _level(level if level is not None else settings.logging.level)
    secret_filter = SecretFilter()
    handlers: list[logging.Handler] = []
    log_file: Path | None = log_file_for(settings.paths.log_dir, entry_point)
    file_problem = None
    try:
        ensure_private_dir(settings.paths.log_dir)
        file_handler = PrivateRotatingFileHandler(
            str(log_file),
            maxBytes=settings.logging.max_bytes,
            backupCount=settings.logging.backup_count,
            encoding="utf-8",
        )
    except OSError as exc:
        file_problem = f"The log file {log_file} cannot be written ({exc}); logging to stderr."
        log_file = None
    else:
        file_handler.setLevel(file_level)
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        handlers.append(file_handler)
    if console or log_file is None:
        console_handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        console_handler.setLevel(_level(console_level) if console else logging.WARNING)
        console_handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        handlers.append(console_handler)
    for handler in handlers:
        handler.addFilter(secret_filter)
        setattr(handler, _OWN_HANDLER, True)

    root = logging.getLogger()
    with _state_lock:
        _remove_own_handlers(root)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(min(h.level for h in handlers))
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(max(logging.WARNING, file_level))
        if capture_exceptions:
            _install_exception_hooks()
    if file_problem:
        log.warning("%s", file_problem)
    log.debug("Logging to %s at level %s.", log_file, logging.getLevelName(file_level))
    return log_file


def reset_logging() -> None:
    """Undo ``configure_logging``: remove its handlers and restore the exception hooks."""
    root = logging.getLogger()
    with _state_lock:
        _remove_own_handlers(root)
        root.setLevel(logging.WARNING)
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        if "sys" in _previous_hooks:
            sys.excepthook = _previous_hooks.pop("sys")
        if "threading" in _previous_hooks:
            threading.excepthook = _previous_hooks.pop("threading")


def _remove_own_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if getattr(handler, _OWN_HANDLER, False):
            root.removeHandler(handler)
            handler.close()


def _level(value: str | int) -> int:
    if isinstance(value, int):
        return value
    number = logging.getLevelName(value.upper())
    if not isinstance(number, int):
        raise ValueError(f"Unknown log level {value!r}.")
    return number


def _install_exception_hooks() -> None:
    if "sys" not in _previous_hooks:
        _previous_hooks["sys"] = sys.excepthook
        sys.excepthook = _log_uncaught
    if "threading" not in _previous_hooks:
        _previous_hooks["threading"] = threading.excepthook
        threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if not issubclass(exc_type, KeyboardInterrupt):
        logging.getLogger("peft_studio_offline").critical(
            "Uncaught exception", exc_info=(exc_type, exc, tb)
        )
    previous: Callable[..., None] = _previous_hooks.get("sys", sys.__excepthook__)
    previous(exc_type, exc, tb)


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
        name = args.thread.name if args.thread else "?"
        logging.getLogger("peft_studio_offline").critical(
            "Uncaught exception in thread %s",
            name,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )
    previous: Callable[..., None] = _previous_hooks.get("threading", threading.__excepthook__)
    previous(args)


# ----------------------------------------------------------------- Qt's messages

# QtMsgType values (stable since Qt 5.5): debug, warning, critical, fatal, info.
_QT_LEVELS = {
    0: logging.DEBUG,
    1: logging.WARNING,
    2: logging.ERROR,
    3: logging.CRITICAL,
    4: logging.INFO,
}


def log_qt_message(msg_type: int, text: str, category: str | None = None) -> None:
    """Log one of Qt's messages under ``qt`` (``qt.<category>`` for categorised ones)."""
    name = "qt" if not category or category == "default" else f"qt.{category}"
    logging.getLogger(name).log(_QT_LEVELS.get(int(msg_type), logging.WARNING), "%s", text)
    if int(msg_type) == 3:  # Qt aborts the process right after a fatal message
        for handler in logging.getLogger().handlers:
            handler.flush()


def qt_message_handler(mode: Any, context: Any, message: str) -> None:
    """A ready-made handler for ``QtCore.qInstallMessageHandler``.

    Takes Qt's ``(QtMsgType, QMessageLogContext, str)`` without importing Qt: the type is
    read as its integer ``value``, the category from the context when there is one.
    """
    msg_type = int(getattr(mode, "value", mode))
    category = getattr(context, "category", None) if context is not None else None
    log_qt_message(msg_type, message, category if isinstance(category, str) else None)
