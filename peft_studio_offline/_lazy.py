"""Names of a package loaded from their modules on first use (PEP 562).

A package lists ``{name: module}`` and gets the module-level ``__getattr__`` and ``__dir__``
that import each module the first time one of its names is read; the package's own imports
under ``TYPE_CHECKING`` show those arrows to type checkers and import-linter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_names(
    package: str, table: Mapping[str, str], namespace: dict[str, Any], exported: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose globals are ``namespace``."""

    def get_attribute(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # found directly from now on
        return value

    def list_names() -> list[str]:
        return sorted(set(namespace) | set(exported))

    return get_attribute, list_names
