"""The application's settings: one immutable object, built once per process.

Read from ``settings.toml`` in the config directory, validated field by field, then
overridden by environment variables for headless use. An invalid file is reported with the
key and the problem, and the defaults are used instead; the file is never rewritten here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution, OverflowPolicy
from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.paths import AppPaths

log = logging.getLogger(__name__)

CHECK_URLS_VARIABLE = "PEFT_STUDIO_OFFLINE_CHECK_URLS"
API_BASE_URL_VARIABLE = "PEFT_STUDIO_OFFLINE_API_BASE_URL"
MLFLOW_URI_VARIABLE = "MLFLOW_TRACKING_URI"


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
    failure_threshold: int = 2  # consecutive failed checks before a stable status flips
    # URLs or {url, expected_status, expected_body}; empty means the sync targets' health URLs
    endpoints: tuple[str | Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class SyncSettings:
    auto_sync: bool = True
    batch_size: int = 100
    concurrency: int = 8
    conflict_strategy: ConflictResolution = ConflictResolution.LOCAL_WINS
    api_base_url: str = ""
    mlflow_tracking_uri: str = ""
    request_timeout: float = 30.0
    upload_roots: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8765


@dataclass(frozen=True, slots=True)
class CredentialSettings:
    """Names of secrets in the system keyring; never the secrets themselves."""

    api_token: str = ""
    mlflow_token: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    paths: AppPaths
    queue: QueueSettings = field(default_factory=QueueSettings)
    network: NetworkSettings = field(default_factory=NetworkSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    credentials: CredentialSettings = field(default_factory=CredentialSettings)
    problems: tuple[str, ...] = ()  # what was wrong with the file, for the user to see

    @classmethod
    def load(
        cls, paths: AppPaths | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read the settings file and the environment; never raises for a bad file."""
        env = os.environ if environ is None else environ
        paths = paths or AppPaths.from_environment(dict(env))
        problems: list[str] = []
        try:
            settings = cls.from_mapping(paths, read_settings_file(paths.settings_file))
        except SettingsError as exc:
            log.warning("%s Using the default settings.", exc)
            problems.append(str(exc))
            settings = cls(paths)
        return dataclasses.replace(apply_environment(settings, env), problems=tuple(problems))

    @classmethod
    def from_mapping(cls, paths: AppPaths, data: Mapping[str, Any]) -> Settings:
        sections: dict[str, Any] = {}
        for name, section_type in _SECTIONS.items():
            raw = data.get(name, {})
            if not isinstance(raw, Mapping):
                raise SettingsError(f"Settings key '{name}' must be a table.")
            sections[name] = _build_section(name, section_type, raw)
        unknown = sorted(set(data) - set(_SECTIONS))
        if unknown:
            raise SettingsError(f"Unknown settings key '{unknown[0]}'.")
        return cls(paths=paths, **sections)

    def to_mapping(self) -> dict[str, Any]:
        """The TOML-ready form (what the Settings dialog writes back)."""
        out: dict[str, Any] = {}
        for name in _SECTIONS:
            section = getattr(self, name)
            values: dict[str, Any] = {}
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                if isinstance(value, tuple):
                    value = [dict(v) if isinstance(v, Mapping) else v for v in value]
                elif hasattr(value, "value"):
                    value = value.value
                values[f.name] = value
            out[name] = values
        return out


_SECTIONS: dict[str, type[Any]] = {
    "queue": QueueSettings,
    "network": NetworkSettings,
    "sync": SyncSettings,
    "api": ApiSettings,
    "credentials": CredentialSettings,
}

_POSITIVE = {
    "max_attempts", "lease_seconds", "busy_timeout", "check_interval", "timeout",
    "failure_threshold", "batch_size", "concurrency", "request_timeout",
}  # fmt: skip
_NON_NEGATIVE = {"max_size", "compress_threshold", "port"}


def read_settings_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"The settings file {path} is not valid TOML ({exc}).") from exc
    except OSError as exc:
        raise SettingsError(f"The settings file {path} cannot be read ({exc}).") from exc


def _build_section(section: str, section_type: type[Any], raw: Mapping[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(section_type)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise SettingsError(f"Unknown settings key '{section}.{key}'.")
        default = getattr(section_type(), key)
        values[key] = _coerce(f"{section}.{key}", key, default, value)
    return section_type(**values)


def _coerce(qualified: str, key: str, default: Any, value: Any) -> Any:
    def fail(expected: str) -> SettingsError:
        return SettingsError(f"Settings key '{qualified}' must be {expected}, not {value!r}.")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if isinstance(default, OverflowPolicy | ConflictResolution):
        enum_type = type(default)
        try:
            return enum_type(value)
        except ValueError:
            raise fail("one of " + ", ".join(m.value for m in enum_type)) from None
    if isinstance(default, int | float):
        numeric = (int,) if isinstance(default, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            raise fail("an integer" if isinstance(default, int) else "a number")
        if key in _POSITIVE and value <= 0:
            raise fail("greater than zero")
        if key in _NON_NEGATIVE and value < 0:
            raise fail("zero or more")
        if key == "port" and value > 65535:
            raise fail("a port number up to 65535")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list):
            raise fail("a list")
        for item in value:
            if not isinstance(item, str) and not (key == "endpoints" and isinstance(item, dict)):
                raise fail("a list of strings")
        return tuple(value)
    raise fail("a known value")  # pragma: no cover - every field has a default


def apply_environment(settings: Settings, env: Mapping[str, str]) -> Settings:
    """Environment variables win over the file, for headless use and scripts."""
    sync = settings.sync
    network = settings.network
    if API_BASE_URL_VARIABLE in env:
        sync = dataclasses.replace(sync, api_base_url=env[API_BASE_URL_VARIABLE].strip())
    if MLFLOW_URI_VARIABLE in env:
        sync = dataclasses.replace(sync, mlflow_tracking_uri=env[MLFLOW_URI_VARIABLE].strip())
    if CHECK_URLS_VARIABLE in env:
        urls = tuple(u.strip() for u in env[CHECK_URLS_VARIABLE].split(",") if u.strip())
        network = dataclasses.replace(network, endpoints=urls)
    return dataclasses.replace(settings, sync=sync, network=network)


def endpoints_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[str | Mapping[str, Any]]:
    """The URLs the network monitor probes by default.

    ``PEFT_STUDIO_OFFLINE_CHECK_URLS`` (even empty) decides alone; otherwise the configured
    endpoints, or else the health URLs of the configured sync targets. No public host is
    contacted unless the user listed it.
    """
    env = os.environ if environ is None else environ
    if CHECK_URLS_VARIABLE in env:
        return [u.strip() for u in env[CHECK_URLS_VARIABLE].split(",") if u.strip()]
    if settings.network.endpoints:
        return list(settings.network.endpoints)
    targets: list[str | Mapping[str, Any]] = []
    if settings.sync.mlflow_tracking_uri.startswith(("http://", "https://")):
        targets.append(settings.sync.mlflow_tracking_uri.rstrip("/") + "/health")
    if settings.sync.api_base_url.startswith(("http://", "https://")):
        targets.append(settings.sync.api_base_url)
    return targets
