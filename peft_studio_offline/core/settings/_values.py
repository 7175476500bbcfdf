"""Reading the settings file and checking each value against its key's rules.

Every problem is one sentence naming the key; a value that does not fit is reported and
left at its default, never guessed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from peft_studio_offline.core.endpoints import ENDPOINT_KEYS, NetworkConfigError, parse_endpoint
from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.settings._schema import (
    CHOICE_KEYS,
    NON_NEGATIVE_KEYS,
    POSITIVE_KEYS,
    SECTIONS,
    URL_KEYS,
)


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


def parse_sections(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
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
    section, name = split_key(key)
    return getattr(SECTIONS[section](), name)


class InvalidValueError(Exception):
    """A value does not fit; ``expected`` completes "must be ...", ``value`` is what was seen."""

    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value


def validate_value(key: str, value: Any) -> Any:
    """``value`` converted to the type of ``key`` ("section.name"), or ``SettingsError``."""
    try:
        return convert(key, value)
    except InvalidValueError as exc:
        raise SettingsError(
            f"Settings key '{key}' must be {exc.expected}, not {exc.value!r}."
        ) from None


def convert(key: str, value: Any) -> Any:
    default = default_value(key)

    def fail(expected: str) -> InvalidValueError:
        return InvalidValueError(expected, value)

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
        if key in POSITIVE_KEYS and value <= 0:
            raise fail("greater than zero")
        if key in NON_NEGATIVE_KEYS and value < 0:
            raise fail("zero or more")
        if key == "api.port" and value > 65535:
            raise fail("a port number from 0 to 65535")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail("a string")
        value = value.strip()
        if key in CHOICE_KEYS:
            choices = CHOICE_KEYS[key]
            normalised = value.upper() if key == "logging.level" else value.lower()
            if normalised not in choices:
                raise fail("one of " + ", ".join(choices))
            return normalised
        if key in URL_KEYS and value and not _is_http_url(value):
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


def split_key(key: str) -> tuple[str, str]:
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
            raise InvalidValueError(f"{_ENDPOINT_EXPECTED} (unknown key '{unknown[0]}')", item)
    try:
        parse_endpoint(item)
    except NetworkConfigError as exc:
        raise InvalidValueError(f"{_ENDPOINT_EXPECTED} ({str(exc).rstrip('.')})", item) from None
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


# Text from environment variables, to the values ``convert`` takes.


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidValueError("1/0, true/false, yes/no or on/off", text)


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidValueError("an integer", text) from None


def parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InvalidValueError("a number", text) from None


def parse_urls(text: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in text.split(",") if u.strip())
