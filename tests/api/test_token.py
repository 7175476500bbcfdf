"""The token file: made once, reused, repaired, private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from peft_studio_offline.api.token import load_or_create_token, read_token


def test_made_once_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "api-token"
    first = load_or_create_token(path)
    assert load_or_create_token(path) == first
    assert read_token(path) == first
    assert first != load_or_create_token(tmp_path / "other" / "api-token")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_file_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "api-token"
    load_or_create_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "api-token"
    token = load_or_create_token(path)
    path.chmod(0o644)
    assert load_or_create_token(path) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "short\n", "\x00" * 40])
def test_an_unusable_file_is_replaced(tmp_path: Path, content: str) -> None:
    path = tmp_path / "api-token"
    path.write_text(content)
    token = load_or_create_token(path)
    assert len(token) >= 32
    assert path.read_text().strip() == token
