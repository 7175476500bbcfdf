"""The environment variables that override settings keys, for headless use and scripts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peft_studio_offline.core.settings._schema import (
    API_BASE_URL_VARIABLE,
    API_PORT_VARIABLE,
    AUTO_SYNC_VARIABLE,
    CHECK_INTERVAL_VARIABLE,
    CHECK_URLS_VARIABLE,
    CONFLICT_STRATEGY_VARIABLE,
    CREDENTIAL_STORE_VARIABLE,
    HUGGINGFACE_ENDPOINT_VARIABLE,
    LOG_LEVEL_VARIABLE,
    MLFLOW_URI_VARIABLE,
    STORAGE_MAX_BYTES_VARIABLE,
)
from peft_studio_offline.core.settings._values import (
    parse_bool,
    parse_float,
    parse_int,
    parse_urls,
)


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
        parse_urls,
        "comma-separated URLs to probe; empty probes nothing",
    ),
    EnvironmentVariable(
        CHECK_INTERVAL_VARIABLE, "network.check_interval", parse_float, "seconds between probes"
    ),
    EnvironmentVariable(API_PORT_VARIABLE, "api.port", parse_int, "port of the local HTTP API"),
    EnvironmentVariable(AUTO_SYNC_VARIABLE, "sync.auto_sync", parse_bool, "sync when online"),
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
        parse_int,
        "bytes the app's files may take; 0 is automatic",
    ),
)
