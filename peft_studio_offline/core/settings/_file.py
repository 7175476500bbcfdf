"""The settings file's text: values made plain for TOML, and the header it starts with."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

FILE_HEADER = (
    "# PEFT Studio Offline settings, written by the Settings dialog.\n"
    "# Keys left out take their default values. Secrets are never stored here:\n"
    "# [credentials] holds only the names they are kept under in the system keyring.\n\n"
)


def plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def section_to_mapping(section: Any) -> dict[str, Any]:
    return {f.name: plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
