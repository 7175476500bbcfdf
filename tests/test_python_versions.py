"""The Python versions the package claims: its classifiers, requires-python and the README
say the same, and the suite runs on one of them."""

from __future__ import annotations

import re
import sqlite3
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def claimed_minors() -> list[int]:
    """From the classifiers, as packaging/bootstrap.sh reads them: [11, 12, 13]."""
    pattern = re.compile(r"Programming Language :: Python :: 3\.(\d+)")
    return sorted(
        int(match.group(1)) for c in PROJECT["classifiers"] if (match := pattern.fullmatch(c))
    )


def test_the_classifiers_start_at_requires_python_and_leave_no_version_out() -> None:
    minors = claimed_minors()
    assert minors, "no 'Programming Language :: Python :: 3.X' classifier"
    assert PROJECT["requires-python"] == f">=3.{minors[0]}"
    assert minors == list(range(minors[0], minors[-1] + 1))


def test_the_readme_names_the_same_versions() -> None:
    minors = claimed_minors()
    names = ", ".join(f"3.{m}" for m in minors[:-1]) + f" and 3.{minors[-1]}"
    assert f"**Python {names}** are supported" in (ROOT / "README.md").read_text()


def test_the_suite_runs_on_a_claimed_version() -> None:
    assert sys.version_info[:2] in [(3, minor) for minor in claimed_minors()]


def test_of_sqlite_warnings_only_the_wrong_one_about_numbered_parameters_is_ignored() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        # Python 3.12.0 to 3.12.3 warn here; the suite's filter lets it pass.
        assert conn.execute("SELECT ?2, ?1", (1, 2)).fetchone() == (2, 1)
        if sys.version_info >= (3, 12):  # a named parameter given a sequence is still caught
            with pytest.raises((DeprecationWarning, sqlite3.ProgrammingError)):
                conn.execute("SELECT :name", (1,))
    finally:
        conn.close()
