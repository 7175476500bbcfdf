"""Logging: the rotating private file, the console, masking, and Qt's messages."""

from __future__ import annotations

import io
import logging
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.logs import (
    configure_logging,
    forget_secrets,
    log_file_for,
    log_qt_message,
    mask_log_text,
    qt_message_handler,
    register_secret,
    reset_logging,
)
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import Settings

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(AppPaths.under(tmp_path / "app"), environ={})


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    forget_secrets()
    yield
    reset_logging()
    forget_secrets()


def read(path: Path | None) -> str:
    assert path is not None
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


@posix_only
def test_file_in_the_log_dir_private_and_rotating(settings: Settings) -> None:
    path = configure_logging(settings, capture_exceptions=False)
    assert path == settings.paths.log_dir / "peft-studio-offline.log"
    logging.getLogger("peft_studio_offline.test").info("hello %s", "file")
    assert "INFO" in read(path) and "peft_studio_offline.test" in read(path)
    assert "hello file" in read(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.paths.log_dir.stat().st_mode) == 0o700


@posix_only
def test_rotation_keeps_the_configured_number_of_private_files(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path / "app")
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[logging]\nmax_bytes = 2000\nbackup_count = 2\n")
    settings = Settings.load(paths, environ={})
    path = configure_logging(settings, capture_exceptions=False)
    logger = logging.getLogger("peft_studio_offline.rotation")
    for i in range(200):
        logger.warning("line %04d %s", i, "x" * 40)
    files = sorted(p.name for p in paths.log_dir.iterdir())
    assert files == [
        "peft-studio-offline.log",
        "peft-studio-offline.log.1",
        "peft-studio-offline.log.2",
    ]
    for name in files:
        assert stat.S_IMODE((paths.log_dir / name).stat().st_mode) == 0o600
    assert "line 0199" in read(path)


def test_each_entry_point_has_its_own_file(settings: Settings) -> None:
    assert configure_logging(settings, entry_point="cli") == log_file_for(
        settings.paths.log_dir, "cli"
    )
    assert log_file_for(settings.paths.log_dir, "cli").name == "peft-studio-offline-cli.log"


def test_level_comes_from_settings_and_can_be_overridden(settings: Settings) -> None:
    path = configure_logging(settings, capture_exceptions=False)
    logging.getLogger("peft_studio_offline.x").debug("not at info")
    assert "not at info" not in read(path)
    path = configure_logging(settings, level="DEBUG", capture_exceptions=False)
    logging.getLogger("peft_studio_offline.x").debug("now at debug")
    assert "now at debug" in read(path)


def test_console_for_the_cli(settings: Settings) -> None:
    stream = io.StringIO()
    configure_logging(settings, console=True, stream=stream, capture_exceptions=False)
    logging.getLogger("peft_studio_offline.cli").info("quiet on the console")
    logging.getLogger("peft_studio_offline.cli").warning("shown on the console")
    assert stream.getvalue() == "WARNING: shown on the console\n"


def test_configuring_twice_does_not_duplicate_lines(settings: Settings) -> None:
    configure_logging(settings, capture_exceptions=False)
    path = configure_logging(settings, capture_exceptions=False)
    logging.getLogger("peft_studio_offline.twice").warning("once only")
    assert read(path).count("once only") == 1


def test_other_handlers_are_left_alone(settings: Settings) -> None:
    mine = logging.NullHandler()
    logging.getLogger().addHandler(mine)
    try:
        configure_logging(settings, capture_exceptions=False)
        reset_logging()
        assert mine in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(mine)


def test_unwritable_log_dir_falls_back_to_stderr(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    paths = AppPaths(tmp_path / "d", tmp_path / "c", blocker / "logs", tmp_path / "k")
    stream = io.StringIO()
    assert configure_logging(Settings(paths), stream=stream, capture_exceptions=False) is None
    assert "cannot be written" in stream.getvalue()


# ------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("headers={'Authorization': 'Bearer xyz987', 'X': 1}", "xyz987"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', "dXNlcjpwYXNz"),
        ("Proxy-Authorization: Basic cHJveHk6cHc=", "cHJveHk6cHc="),
        ("GET http://h/run?token=abc123&x=1", "abc123"),
        ('{"password": "hunter two", "user": "me"}', "hunter two"),
        ("https://user:pw123@host/x", "pw123"),
        ("api_key: SECRETKEY", "SECRETKEY"),
        ("{'X-Api-Key': 'k3y-value'}", "k3y-value"),
        ("MLFLOW_TRACKING_TOKEN=abcdef", "abcdef"),
        ("client_secret=zzz999", "zzz999"),
        ("sent with bearer QWERTY12345", "QWERTY12345"),
    ],
)
def test_secrets_are_masked(text: str, leaked: str) -> None:
    masked = mask_log_text(text)
    assert leaked not in masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    ["retry_count=3 status=pending", "GET http://127.0.0.1:5000/api/2.0/mlflow/runs/get", "ok"],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_log_text(text) == text


def test_masking_applies_to_arguments_tracebacks_and_every_logger(settings: Settings) -> None:
    register_secret("registered-secret-42")
    stream = io.StringIO()
    path = configure_logging(settings, console=True, stream=stream, capture_exceptions=False)
    logger = logging.getLogger("some.library")
    logger.warning("headers %s", {"Authorization": "Bearer tok-abc-123"})
    try:
        raise RuntimeError("failed with registered-secret-42 in the message")
    except RuntimeError:
        logger.exception("request failed")
    text = read(path)
    for output in (text, stream.getvalue()):
        assert "tok-abc-123" not in output
        assert "registered-secret-42" not in output
        assert "Bearer ***" in output
        assert "RuntimeError: failed with *** in the message" in output


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert mask_log_text("tab stop") == "tab stop"


def test_uncaught_exceptions_in_threads_are_logged_then_passed_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    passed_on: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: passed_on.append(str(args.exc_value)))
    before = threading.excepthook
    path = configure_logging(settings, capture_exceptions=True)
    assert threading.excepthook is not before

    def boom() -> None:
        raise ValueError("thread went wrong")

    thread = threading.Thread(target=boom, name="worker-7")
    thread.start()
    thread.join()
    text = read(path)
    assert "Uncaught exception in thread worker-7" in text
    assert "ValueError: thread went wrong" in text
    assert passed_on == ["thread went wrong"]
    reset_logging()
    assert threading.excepthook is before


# ------------------------------------------------------------------------------ Qt


@pytest.mark.parametrize(
    ("msg_type", "level"),
    [(0, logging.DEBUG), (4, logging.INFO), (1, logging.WARNING), (2, logging.ERROR)],
)
def test_qt_message_types_map_to_levels(
    msg_type: int, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        log_qt_message(msg_type, "from qt", "qt.qpa.fonts")
    (record,) = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == (
        "qt.qt.qpa.fonts",
        level,
        "from qt",
    )


def test_qt_messages_reach_the_log_file_through_qt_itself(settings: Settings) -> None:
    pytest.importorskip("PySide6", reason="the core's own tests run without Qt too")
    path = configure_logging(settings, capture_exceptions=False)
    code = (
        "import logging, sys\n"
        "from PySide6.QtCore import qInstallMessageHandler, qWarning\n"
        "from peft_studio_offline.core.logs import configure_logging, qt_message_handler\n"
        "from peft_studio_offline.core.settings import Settings\n"
        "configure_logging(Settings.load(), capture_exceptions=False)\n"
        "qInstallMessageHandler(qt_message_handler)\n"
        "qWarning('qt says Authorization: Bearer qt-secret-token')\n"
    )
    env = {"PEFT_STUDIO_OFFLINE_HOME": str(settings.paths.log_dir.parent), "PATH": "/usr/bin"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    text = read(path)
    assert "WARNING  qt [" in text
    assert "qt says Authorization: Bearer ***" in text
    assert "qt-secret-token" not in text


def test_qt_handler_accepts_plain_values(caplog: pytest.LogCaptureFixture) -> None:
    class Mode:
        value = 2

    with caplog.at_level(logging.DEBUG):
        qt_message_handler(Mode(), None, "critical thing")
        qt_message_handler(1, object(), "no category")
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("qt", logging.ERROR),
        ("qt", logging.WARNING),
    ]
