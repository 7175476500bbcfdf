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
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.paths import AppPaths, write_private_file
from peft_studio_offline.core.settings._environment import (
    ENVIRONMENT_VARIABLES,
    EnvironmentVariable,
)
from peft_studio_offline.core.settings._file import FILE_HEADER, plain, section_to_mapping
from peft_studio_offline.core.settings._schema import (
    API_BASE_URL_VARIABLE,
    API_PORT_VARIABLE,
    AUTO_SYNC_VARIABLE,
    CHECK_INTERVAL_VARIABLE,
    CHECK_URLS_VARIABLE,
    CONFLICT_STRATEGY_VARIABLE,
    CREDENTIAL_STORE_VARIABLE,
    CREDENTIAL_STORES,
    HUGGINGFACE_ENDPOINT_VARIABLE,
    LOG_LEVEL_VARIABLE,
    LOG_LEVELS,
    MLFLOW_URI_VARIABLE,
    SECTIONS,
    STORAGE_MAX_BYTES_VARIABLE,
    ApiSettings,
    CredentialSettings,
    LoggingSettings,
    NetworkSettings,
    Override,
    QueueSettings,
    StorageSettings,
    SyncSettings,
)
from peft_studio_offline.core.settings._values import (
    InvalidValueError,
    convert,
    default_value,
    parse_sections,
    parse_urls,
    read_settings_file,
    split_key,
    validate_value,
)

__all__ = [
    "API_BASE_URL_VARIABLE",
    "API_PORT_VARIABLE",
    "AUTO_SYNC_VARIABLE",
    "CHECK_INTERVAL_VARIABLE",
    "CHECK_URLS_VARIABLE",
    "CONFLICT_STRATEGY_VARIABLE",
    "CREDENTIAL_STORES",
    "CREDENTIAL_STORE_VARIABLE",
    "ENVIRONMENT_VARIABLES",
    "HUGGINGFACE_ENDPOINT_VARIABLE",
    "LOG_LEVELS",
    "LOG_LEVEL_VARIABLE",
    "MLFLOW_URI_VARIABLE",
    "SECTIONS",
    "STORAGE_MAX_BYTES_VARIABLE",
    "ApiSettings",
    "CredentialSettings",
    "EnvironmentVariable",
    "LoggingSettings",
    "NetworkSettings",
    "Override",
    "QueueSettings",
    "Settings",
    "StorageSettings",
    "SyncSettings",
    "apply_environment",
    "default_value",
    "endpoints_from_settings",
    "file_mapping",
    "read_settings_file",
    "save_settings",
    "validate_value",
]

log = logging.getLogger(__name__)


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
        sections, file_problems = parse_sections(data)
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
        sections, problems = parse_sections(data)
        if problems:
            raise SettingsError(" ".join(problems))
        return cls(paths=paths, **sections)

    def to_mapping(self) -> dict[str, Any]:
        """Every key with its current value, in TOML-ready form."""
        return {name: section_to_mapping(getattr(self, name)) for name in SECTIONS}

    def overridden_by(self, key: str) -> str | None:
        """The environment variable that set ``key`` ("section.name") in this process, if any."""
        for override in self.overrides:
            if override.key == key:
                return override.variable
        return None

    def save(self) -> Path:
        """Write these settings to the settings file (see ``save_settings``)."""
        return save_settings(self)


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
            value = convert(variable.key, variable.parse(text))
        except InvalidValueError as exc:
            problems.append(
                f"Environment variable {variable.name}={text!r} was ignored: it must be "
                f"{exc.expected}."
            )
            continue
        section, name = split_key(variable.key)
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
        return list(parse_urls(env[CHECK_URLS_VARIABLE]))
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
            if override is not None and value == plain(override.value):
                value = plain(override.file_value)
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
    text = FILE_HEADER + tomli_w.dumps(file_mapping(settings))
    try:
        write_private_file(target, text.encode())
    except OSError as exc:
        raise SettingsError(f"The settings file {target} cannot be written ({exc}).") from exc
    log.info("Settings saved to %s.", target)
    return target
