"""Connectivity: whether the services we sync with answer as they should."""

from peft_studio_offline.core.endpoints import (
    Endpoint,
    EndpointSpec,
    NetworkConfigError,
    parse_endpoint,
    parse_endpoints,
)
from peft_studio_offline.core.network._monitor import NetworkMonitor, StatusCallback
from peft_studio_offline.core.network._probe import ProbeOutcome, ProbeResult

__all__ = [
    "Endpoint",
    "EndpointSpec",
    "NetworkConfigError",
    "NetworkMonitor",
    "ProbeOutcome",
    "ProbeResult",
    "StatusCallback",
    "parse_endpoint",
    "parse_endpoints",
]
