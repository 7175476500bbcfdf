"""What the settings are: their sections and keys with defaults, the environment variables'
names, and the rules a value must keep (read by ``_values``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution, OverflowPolicy

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


SECTIONS: dict[str, type[Any]] = {
    "queue": QueueSettings,
    "network": NetworkSettings,
    "sync": SyncSettings,
    "api": ApiSettings,
    "credentials": CredentialSettings,
    "logging": LoggingSettings,
    "storage": StorageSettings,
}

POSITIVE_KEYS = {
    "queue.max_attempts", "queue.lease_seconds", "queue.busy_timeout",
    "network.check_interval", "network.timeout", "network.failure_threshold",
    "sync.batch_size", "sync.concurrency", "sync.request_timeout", "logging.max_bytes",
    "sync.huggingface_commits_per_hour",
    "api.max_request_bytes", "storage.retention_days", "storage.failed_retention_days",
}  # fmt: skip
NON_NEGATIVE_KEYS = {
    "queue.max_size", "queue.compress_threshold", "api.port", "logging.backup_count",
    "storage.max_bytes",
}  # fmt: skip
URL_KEYS = {"sync.api_base_url", "sync.mlflow_tracking_uri", "sync.huggingface_endpoint"}
CHOICE_KEYS: dict[str, tuple[str, ...]] = {
    "logging.level": LOG_LEVELS,
    "credentials.store": CREDENTIAL_STORES,
}
