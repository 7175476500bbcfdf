"""The application's settings: one immutable object, built once per process.

Read from ``settings.toml`` in the config directory, validated key by key, then overridden by
environment variables for headless use. A key with an invalid value is reported with the
key and the problem (``Settings.problems``) and left at its default, while every valid key of
the file is kept (one typing mistake must not drop the sync targets); a file that is not TOML
at all gives the defaults. Loading never rewrites the file. ``save_settings`` writes the
file back (the Settings dialog) atomically, user-only.

Secrets never live here: the ``credentials`` section holds only the *names* under which they
are kept (see ``peft_studio_offline.core.credentials``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from peft_studio_offline.core.endpoints import ENDPOINT_KEYS, NetworkConfigError, parse_endpoint
from peft_studio_offline.core.enums import ConflictResolution, OverflowPolicy
from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.paths import AppPaths, write_private_file

log = logging.getLogger(__name__)

CHECK_URLS_VARIABLE = "PEFT_STUDIO_OFFLINE_CHECK_URLS"
API_BASE_URL_VARIABLE = "PEFT_STUDIO_OFFLINE_API_BASE_URL"
MLFLOW_URI_VARIABLE = "MLFLOW_TRACKING_URI"
HUGGINGFACE_ENDPOINT_VARIABLE = "HF_ENDPOINT"
API_PORT_VARIABLE = "PEFT_STUDIO_OFFLINE_API_PORT"
AUTO_SYNC_VARIABLE = "PEFT_STUDIO_OFFLINE_AUTO_SYNC"
CONFLICT_STRATEGY_VARIABLE = "PEFT_STUDIO_OFFLINE_CONFLICT_STRATEGY"
CHECK_INTERVAL_VARIABLE = "PEFT_STUDIO_OFFLINE_CHECK_INTERVAL"
LOG_LEVEL_VARIABLE = "PEFT_STUDIO_OFFLINE_LOG_LEVEL"
CREDENTIAL_STORE_VARIABLE = "PEFT_STUDIO_OFFLINE_CREDENTIAL_STORE"
STORAGE_MAX_BYTES_VARIABLE = "PEFT_STUDIO_OFFLINE_STORAGE_MAX_BYTES"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CREDENTIAL_STORES = ("auto", "keyring", "file")

_FILE_HEADER = (
    "# PEFT Studio Offline settings, written by the Settings dialog.\n"
    "# Keys left out take their default values. Secrets are never stored here:\n"
    "# [credentials] holds only the names they are kept under in the system keyring.\n\n"
)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    max_attempts: int = 5
    max_size: int = 0  # unfinished operations allowed at once; 0 means no limit
    overflow: OverflowPolicy = OverflowPolicy.REJECT
    compress_threshold: int = 256 * 1024  # payloads larger than this are stored compressed
    lease_seconds: float = 30.0
    busy_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    check_interval: float = 30.0
    timeout: float = 5.0
    failure_threshold: int = 2  # failed probes in one check before an endpoint is down
    # URLs or {url, expected_status, expected_body}; empty means the sync targets' health URLs
    endpoints: tuple[str | Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class SyncSettings:
    auto_sync: bool = True
    # Operations taken per claim; small enough that a large claim never holds up the window.
    # Handlers that coalesce operations (metrics) are given up to 1,000 at once.
    batch_size: int = 100
    concurrency: int = 8
    conflict_strategy: ConflictResolution = ConflictResolution.LOCAL_WINS
    api_base_url: str = ""
    mlflow_tracking_uri: str = ""
    # The Hugging Face Hub (or a mirror of its API) adapters are pushed to; contacted only
    # when such a push is queued.
    huggingface_endpoint: str = ""
    # Commits one repository may receive per hour before pushes to it wait (the Hub allows
    # 128 an hour; counted from the repository's own commit list).
    huggingface_commits_per_hour: int = 32
    request_timeout: float = 30.0
    upload_roots: tuple[str, ...] = ()
    # A point logged through the local MLflow endpoint again for the same run, key and step
    # (a script restarted from a checkpoint) replaces the earlier one while that is still
    # queued; false sends both.
    mlflow_replace_queued_points: bool = True


@dataclass(frozen=True, slots=True)
class ApiSettings:
    enabled: bool = True  # the window serves the local API while it runs
    host: str = "127.0.0.1"  # loopback only: the API is for programs on this machine
    port: int = 8765  # 0 picks a free port
    # Larger request bodies are refused with 413, counted as they arrive (chunked ones too).
    max_request_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CredentialSettings:
    """Names of secrets in the system keyring; never the secrets themselves."""

    api_token: str = ""  # bearer token sent to sync.api_base_url
    mlflow_token: str = ""  # bearer token sent to sync.mlflow_tracking_uri
    huggingface_token: str = ""  # access token sent to sync.huggingface_endpoint
    store: str = "auto"  # auto (keyring, else a user-only file), keyring, or file


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "INFO"
    max_bytes: int = 5 * 1024 * 1024  # size at which the log file is rotated
    backup_count: int = 5  # rotated files kept


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """How much of the disk the app's files may take, and how long finished work is kept."""

    # Bytes the queue, the MLflow record, staged files and the logs may take together; new
    # operations past it follow queue.overflow. 0: automatic (``core.storage_budget``).
    max_bytes: int = 0
    # Completed operations, and the staged copies of files only they needed, are removed
    # this long after they completed.
    retention_days: float = 7.0
    # Failed, cancelled and expired operations keep their attempt history longer: it is
    # what tells the user why they did not go.
    failed_retention_days: float = 30.0


@dataclass(frozen=True, slots=True)
class Override:
    """One settings key replaced by an environment variable in this process."""

    key: str  # "section.name"
    variable: str
    value: Any  # what the variable set
    file_value: Any  # what the file (or the default) said; what save_settings keeps


@dataclass(frozen=True, slots=True)
class Settings:
    paths: AppPaths
    queue: QueueSettings = field(default_factory=QueueSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    credentials: CredentialSettings = field(default_factory=CredentialSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    problems: tuple[str, ...] = ()  # what was wrong with the file or environment, for the user
    overrides: tuple[Override, ...] = ()  # keys the environment replaced

    @classmethod
    def load(
        cls, paths: AppPaths | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read the settings file and the environment; never raises for a bad file.

        Cheap: one small file read, no keyring, no network.
        """
        env = os.environ if environ is None else environ
        paths = paths or AppPaths.from_environment(env)
        problems: list[str] = []
        try:
            data = read_settings_file(paths.settings_file)
        except SettingsError as exc:
            problems.append(str(exc))
            data = {}
        sections, file_problems = _parse(data)
        if file_problems:
            where = paths.settings_file
            problems.extend(f"{where}: {p}" for p in file_problems)
        if problems:
            for problem in problems:
                log.warning("%s", problem)
            log.warning(
                "Those keys keep their defaults; the rest of %s is used, and the file was left"
                " unchanged.",
                paths.settings_file,
            )
        settings = cls(paths=paths, **sections)
        settings = apply_environment(settings, env)
        return dataclasses.replace(settings, problems=tuple(problems) + settings.problems)

    @classmethod
    def from_mapping(cls, paths: AppPaths, data: Mapping[str, Any]) -> Settings:
        """Validate ``data`` (the TOML document's shape); ``SettingsError`` names every problem."""
        sections, problems = _parse(data)
        if problems:
            raise SettingsError(" ".join(problems))
        return cls(paths=paths, **sections)

    def to_mapping(self) -> dict[str, Any]:
        """Every key with its current value, in TOML-ready form."""
        return {name: _section_to_mapping(getattr(self, name)) for name in SECTIONS}

    def overridden_by(self, key: str) -> str | None:
        """The environment variable that set ``key`` ("section.name") in this process, if any."""
        for override in self.overrides:
            if override.key == key:
                return override.variable
        return None

    def save(self) -> Path:
        """Write these settings to the settings file (see ``save_settings``)."""
        return save_settings(self)


SECTIONS: dict[str, type[Any]] = {
    "queue": QueueSettings,
    "network": NetworkSettings,
    "sync": SyncSettings,
    "api": ApiSettings,
    "credentials": CredentialSettings,
    "logging": LoggingSettings,
    "storage": StorageSettings,
}

_POSITIVE = {
    "queue.max_attempts", "queue.lease_seconds", "queue.busy_timeout",
    "network.check_interval", "network.timeout", "network.failure_threshold",
    "sync.batch_size", "sync.concurrency", "sync.request_timeout", "logging.max_bytes",
    "sync.huggingface_commits_per_hour",
    "api.max_request_bytes", "storage.retention_days", "storage.failed_retention_days",
}  # fmt: skip
_NON_NEGATIVE = {
    "queue.max_size", "queue.compress_threshold", "api.port", "logging.backup_count",
    "storage.max_bytes",
}  # fmt: skip
_URLS = {"sync.api_base_url", "sync.mlflow_tracking_uri", "sync.huggingface_endpoint"}
_CHOICES: dict[str, tuple[str, ...]] = {
    "logging.level": LOG_LEVELS,
    "credentials.store": CREDENTIAL_STORES,
}


# ------------------------------------------------------------------------- reading


def read_settings_file(path: Path) -> dict[str, Any]:
    """The parsed TOML document, ``{}`` when there is no file; ``SettingsError`` otherwise."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"The settings file {path} is not valid TOML ({exc}).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"The settings file {path} cannot be read ({exc}).") from exc


def _parse(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Build each section; collect one sentence per problem instead of stopping at the first."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for name in data:
        if name not in SECTIONS:
            known = ", ".join(SECTIONS)
            problems.append(f"Unknown settings section '{name}' (known: {known}).")
    for name, section_type in SECTIONS.items():
        raw = data.get(name, {})
        if not isinstance(raw, Mapping):
            problems.append(f"Settings key '{name}' must be a table, not {raw!r}.")
            continue
        values: dict[str, Any] = {}
        fields = {f.name for f in dataclasses.fields(section_type)}
        for key, value in raw.items():
            qualified = f"{name}.{key}"
            if key not in fields:
                problems.append(
                    f"Unknown settings key '{qualified}' (known: {', '.join(sorted(fields))})."
                )
                continue
            try:
                values[key] = validate_value(qualified, value)
            except SettingsError as exc:
                problems.append(str(exc))
        try:  # the valid keys, even when others were not: see ``Settings.load``
            sections[name] = section_type(**values)
        except (SettingsError, TypeError, ValueError) as exc:
            problems.append(str(exc))
    return sections, problems


def default_value(key: str) -> Any:
    """The default of ``key`` ("section.name")."""
    section, name = _split_key(key)
    return getattr(SECTIONS[section](), name)


class _InvalidValueError(Exception):
    """A value does not fit; ``expected`` completes "must be ...", ``value`` is what was seen."""

    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value


def validate_value(key: str, value: Any) -> Any:
    """``value`` converted to the type of ``key`` ("section.name"), or ``SettingsError``."""
    try:
        return _convert(key, value)
    except _InvalidValueError as exc:
        raise SettingsError(
            f"Settings key '{key}' must be {exc.expected}, not {exc.value!r}."
        ) from None


def _convert(key: str, value: Any) -> Any:
    default = default_value(key)

    def fail(expected: str) -> _InvalidValueError:
        return _InvalidValueError(expected, value)

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if isinstance(default, Enum):
        enum_type = type(default)
        try:
            return enum_type(value)
        except ValueError:
            raise fail("one of " + ", ".join(str(m.value) for m in enum_type)) from None
    if isinstance(default, int | float):
        numeric = (int,) if isinstance(default, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            raise fail("an integer" if isinstance(default, int) else "a number")
        if key in _POSITIVE and value <= 0:
            raise fail("greater than zero")
        if key in _NON_NEGATIVE and value < 0:
            raise fail("zero or more")
        if key == "api.port" and value > 65535:
            raise fail("a port number from 0 to 65535")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail("a string")
        value = value.strip()
        if key in _CHOICES:
            choices = _CHOICES[key]
            normalised = value.upper() if key == "logging.level" else value.lower()
            if normalised not in choices:
                raise fail("one of " + ", ".join(choices))
            return normalised
        if key in _URLS and value and not _is_http_url(value):
            raise fail("an http:// or https:// URL, or empty")
        if key == "api.host" and not _is_loopback(value):
            raise fail("a loopback address such as 127.0.0.1 (the API serves this machine only)")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise fail("a list")
        if key == "network.endpoints":
            return tuple(_convert_endpoint(item) for item in value)
        if not all(isinstance(item, str) for item in value):
            raise fail("a list of strings")
        return tuple(value)
    raise fail("a known value")  # pragma: no cover - every field has a default


def _split_key(key: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    if section not in SECTIONS or name not in {
        f.name for f in dataclasses.fields(SECTIONS[section])
    }:
        raise KeyError(f"No settings key {key!r}.")
    return section, name


_ENDPOINT_EXPECTED = "a list of http(s) URLs or tables with url, expected_status, expected_body"


def _convert_endpoint(item: Any) -> str | Mapping[str, Any]:
    """An endpoint as the monitor reads it (``core.endpoints``): the same rules in both."""
    if isinstance(item, Mapping):
        unknown = sorted(str(key) for key in item if key not in ENDPOINT_KEYS)
        if unknown:
            raise _InvalidValueError(f"{_ENDPOINT_EXPECTED} (unknown key '{unknown[0]}')", item)
    try:
        parse_endpoint(item)
    except NetworkConfigError as exc:
        raise _InvalidValueError(f"{_ENDPOINT_EXPECTED} ({str(exc).rstrip('.')})", item) from None
    return item if isinstance(item, str) else dict(item)


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------- environment


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise _InvalidValueError("1/0, true/false, yes/no or on/off", text)


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _InvalidValueError("an integer", text) from None


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise _InvalidValueError("a number", text) from None


def _parse_urls(text: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in text.split(",") if u.strip())


@dataclass(frozen=True, slots=True)
class EnvironmentVariable:
    name: str
    key: str  # the settings key it replaces
    parse: Callable[[str], Any]  # text to a value that validate_value accepts
    meaning: str


ENVIRONMENT_VARIABLES: tuple[EnvironmentVariable, ...] = (
    EnvironmentVariable(
        API_BASE_URL_VARIABLE, "sync.api_base_url", str.strip, "base URL for relative api_call"
    ),
    EnvironmentVariable(
        MLFLOW_URI_VARIABLE, "sync.mlflow_tracking_uri", str.strip, "MLflow tracking server"
    ),
    EnvironmentVariable(
        HUGGINGFACE_ENDPOINT_VARIABLE,
        "sync.huggingface_endpoint",
        str.strip,
        "Hugging Face Hub adapters are pushed to",
    ),
    EnvironmentVariable(
        CHECK_URLS_VARIABLE,
        "network.endpoints",
        _parse_urls,
        "comma-separated URLs to probe; empty probes nothing",
    ),
    EnvironmentVariable(
        CHECK_INTERVAL_VARIABLE, "network.check_interval", _parse_float, "seconds between probes"
    ),
    EnvironmentVariable(API_PORT_VARIABLE, "api.port", _parse_int, "port of the local HTTP API"),
    EnvironmentVariable(AUTO_SYNC_VARIABLE, "sync.auto_sync", _parse_bool, "sync when online"),
    EnvironmentVariable(
        CONFLICT_STRATEGY_VARIABLE, "sync.conflict_strategy", str.strip, "conflict strategy"
    ),
    EnvironmentVariable(LOG_LEVEL_VARIABLE, "logging.level", str.strip, "log level"),
    EnvironmentVariable(
        CREDENTIAL_STORE_VARIABLE, "credentials.store", str.strip, "where secrets are kept"
    ),
    EnvironmentVariable(
        STORAGE_MAX_BYTES_VARIABLE,
        "storage.max_bytes",
        _parse_int,
        "bytes the app's files may take; 0 is automatic",
    ),
)


def apply_environment(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Environment variables win over the file, for headless use and scripts.

    A variable with an invalid value is ignored and reported in ``problems``; the others
    still apply. Each applied variable is recorded in ``overrides``.
    """
    problems: list[str] = []
    overrides: list[Override] = [o for o in settings.overrides]
    for variable in ENVIRONMENT_VARIABLES:
        if variable.name not in env:
            continue
        text = env[variable.name]
        try:
            value = _convert(variable.key, variable.parse(text))
        except _InvalidValueError as exc:
            problems.append(
                f"Environment variable {variable.name}={text!r} was ignored: it must be "
                f"{exc.expected}."
            )
            continue
        section, name = _split_key(variable.key)
        current = getattr(settings, section)
        overrides = [o for o in overrides if o.key != variable.key]
        overrides.append(Override(variable.key, variable.name, value, getattr(current, name)))
        settings = dataclasses.replace(
            settings, **{section: dataclasses.replace(current, **{name: value})}
        )
    for problem in problems:
        log.warning("%s", problem)
    return dataclasses.replace(
        settings, problems=settings.problems + tuple(problems), overrides=tuple(overrides)
    )


def endpoints_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None, *, hub_work: bool = False
) -> list[str | Mapping[str, Any]]:
    """The URLs the network monitor probes by default.

    ``PEFT_STUDIO_OFFLINE_CHECK_URLS`` (even empty) decides alone; otherwise the configured
    endpoints, or else the health URLs of the configured sync targets. No public host is
    contacted unless the user listed it; the Hugging Face endpoint only while ``hub_work``
    (pushes to it are waiting).
    """
    if settings.overridden_by("network.endpoints"):
        return list(settings.network.endpoints)
    env = os.environ if environ is None else environ
    if CHECK_URLS_VARIABLE in env:
        return list(_parse_urls(env[CHECK_URLS_VARIABLE]))
    if settings.network.endpoints:
        return list(settings.network.endpoints)
    targets: list[str | Mapping[str, Any]] = []
    if settings.sync.mlflow_tracking_uri.startswith(("http://", "https://")):
        # MLflow's health check answers "OK": any other body is a portal or proxy in the way.
        health = settings.sync.mlflow_tracking_uri.rstrip("/") + "/health"
        targets.append({"url": health, "expected_body": "OK"})
    if settings.sync.api_base_url.startswith(("http://", "https://")):
        # An API's base URL need not answer 200: any answer from the server itself (not a
        # redirect, which is how portals intercept) shows that it can be reached.
        targets.append({"url": settings.sync.api_base_url, "expected_status": _REACHABLE})
    hub = settings.sync.huggingface_endpoint
    if hub_work and hub.startswith(("http://", "https://")):
        targets.append({"url": hub.rstrip("/") + "/", "expected_status": _REACHABLE})
    return targets


_REACHABLE = [*range(200, 300), *range(400, 500)]


# ------------------------------------------------------------------------- writing


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _section_to_mapping(section: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(section, f.name)) for f in dataclasses.fields(section)}


def file_mapping(settings: Settings) -> dict[str, Any]:
    """What ``save_settings`` writes: keys that differ from their defaults.

    A key set by an environment variable keeps what the file said, unless it was changed
    since (the user edited it): a headless override is never baked into the file.
    """
    out: dict[str, Any] = {}
    defaults = Settings(settings.paths).to_mapping()
    current = settings.to_mapping()
    by_key = {o.key: o for o in settings.overrides}
    for section, values in current.items():
        kept: dict[str, Any] = {}
        for name, value in values.items():
            override = by_key.get(f"{section}.{name}")
            if override is not None and value == _plain(override.value):
                value = _plain(override.file_value)
            if value != defaults[section][name]:
                kept[name] = value
        if kept:
            out[section] = kept
    return out


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write ``settings`` to ``path`` (the settings file by default): atomic, user-only (0600).

    A file there that cannot be read as valid settings is kept next to it as
    ``settings.toml.invalid`` first, so that a save never destroys what the user wrote.
    """
    target = path or settings.paths.settings_file
    Settings.from_mapping(settings.paths, file_mapping(settings))  # never write what load rejects
    if target.exists():
        try:
            Settings.from_mapping(settings.paths, read_settings_file(target))
        except SettingsError:
            backup = target.with_name(target.name + ".invalid")
            try:
                write_private_file(backup, target.read_bytes())
            except OSError as exc:
                raise SettingsError(
                    f"The invalid settings file {target} could not be kept as {backup} ({exc}); "
                    "nothing was written."
                ) from exc
            log.warning("The invalid settings file was kept as %s.", backup)
    text = _FILE_HEADER + tomli_w.dumps(file_mapping(settings))
    try:
        write_private_file(target, text.encode())
    except OSError as exc:
        raise SettingsError(f"The settings file {target} cannot be written ({exc}).") from exc
    log.info("Settings saved to %s.", target)
    return target
