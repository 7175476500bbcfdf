"""``bundle`` and ``receipt`` on the command line, two homes standing for the two sides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peft_studio_offline.core.paths import AppPaths

TIMEOUT = 120


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PEFT_STUDIO_OFFLINE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


def ok_json(home: Path, *args: str) -> dict[str, object]:
    result = run(home, *args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def one_sentence(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "offline", tmp_path / "connected"


def queue_upload(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "eval.bin"
    data.write_bytes(os.urandom(2_200_000))
    payload = {"path": str(data), "url": "http://127.0.0.1:9/up"}
    assert run(home, "enqueue", "file_upload", json.dumps(payload)).returncode == 0


def test_the_round_trip_on_the_command_line(homes: tuple[Path, Path], tmp_path: Path) -> None:
    offline, connected = homes
    queue_upload(offline, tmp_path)
    bundle = str(tmp_path / "drive" / "bundle")

    exported = ok_json(offline, "bundle", "export", bundle, "--part-size", "1M")
    assert exported["operations"] == 1
    assert len(exported["parts"]) == 3  # type: ignore[arg-type]
    assert json.loads(run(offline, "list", "--json").stdout)[0]["status"] == "exported"
    assert ok_json(offline, "bundle", "export", str(tmp_path / "empty"))["operations"] == 0
    assert ok_json(offline, "bundle", "export", str(tmp_path / "all"), "--all")["operations"] == 1

    assert ok_json(connected, "bundle", "import", bundle)["added"] == 1
    assert ok_json(connected, "bundle", "import", bundle)["already_here"] == 1
    (op,) = json.loads(run(connected, "list", "--json").stdout)
    assert run(connected, "enqueue", "api_call", '{"url": "http://127.0.0.1:9/x"}').returncode == 0
    receipt = str(tmp_path / "drive" / "receipt.json")
    # Nothing delivered yet: an empty receipt, which completes nothing.
    assert ok_json(connected, "receipt", "export", receipt)["deliveries"] == 0
    assert ok_json(offline, "receipt", "import", receipt)["completed"] == 0

    human = run(offline, "receipt", "import", receipt)
    assert human.returncode == 0
    assert human.stdout.startswith("Completed 0 operations")
    assert op["status"] == "pending"


def test_a_damaged_bundle_exits_1_with_one_sentence_naming_the_part(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    offline, connected = homes
    queue_upload(offline, tmp_path)
    bundle = tmp_path / "bundle"
    assert run(offline, "bundle", "export", str(bundle), "--part-size", "1M").returncode == 0
    (bundle / "bundle.tar.00002").unlink()

    line = one_sentence(run(connected, "bundle", "import", str(bundle)), 1)

    assert "Part 2 of 3 (bundle.tar.00002)" in line and "is missing" in line
    assert json.loads(run(connected, "stats", "--json").stdout)["total"] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["bundle", "export", "X", "--part-size", "4Q"], "part size must be"),
        (["bundle", "export", "X", "--part-size", "10K"], "at least 1M"),
        (["bundle", "export", "X", "--status", "completed"], "cannot be exported"),
        (["bundle", "export", "X", "--type", "email"], "unknown type"),
        (["bundle"], "required"),
        (["receipt", "export"], "required"),
    ],
)
def test_usage_errors_exit_2(
    homes: tuple[Path, Path], tmp_path: Path, args: list[str], words: str
) -> None:
    line = one_sentence(run(homes[0], *[str(tmp_path / a) if a == "X" else a for a in args]), 2)
    assert words in line


def test_a_part_size_of_4g_fits_a_fat32_drive() -> None:
    from peft_studio_offline.cli._parser import part_size

    assert part_size("4G") == 4_000_000_000 < 2**32 - 1
    assert part_size("2GiB") == 2 * 2**30
    assert part_size("1500000") == 1_500_000


def test_an_encrypted_bundle_on_the_command_line(homes: tuple[Path, Path], tmp_path: Path) -> None:
    import pyrage

    offline, connected = homes
    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"{identity}\n")
    queue_upload(offline, tmp_path)
    bundle = str(tmp_path / "sealed")
    public = str(identity.to_public())
    assert ok_json(offline, "bundle", "export", bundle, "--recipient", public)["operations"] == 1

    line = one_sentence(run(connected, "bundle", "import", bundle), 1)
    assert "is encrypted: give the identity" in line
    assert ok_json(connected, "bundle", "import", bundle, "--identity", str(key_file))["added"] == 1
    bad = one_sentence(run(offline, "bundle", "export", str(tmp_path / "x"), "--recipient", "k"), 1)
    assert "is not an age public key" in bad


def test_an_import_past_queue_max_size_exits_1_with_one_sentence(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    offline, connected = homes
    queue_upload(offline, tmp_path)
    assert run(offline, "enqueue", "api_call", '{"url": "http://127.0.0.1:9/a"}').returncode == 0
    settings = AppPaths.under(connected).settings_file
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("[queue]\nmax_size = 1\n")
    bundle = str(tmp_path / "bundle")
    ok_json(offline, "bundle", "export", bundle)

    sentence = one_sentence(run(connected, "bundle", "import", bundle), 1)

    assert "limit of 1 unfinished operations" in sentence
    assert "nothing was imported" in sentence
    assert json.loads(run(connected, "list", "--json").stdout) == []
