"""A real, small filesystem for disk-full tests: a tmpfs the test mounts and can grow.

Mounting needs root (as in CI); elsewhere the tests that use it are skipped with a reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path

    def grow(self, megabytes: int) -> None:
        """Free space the way a user would: the same filesystem, made larger in place."""
        _mount("-o", f"remount,size={megabytes}m", str(self.path))

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


needs_root = pytest.mark.skipif(not can_mount(), reason="mounting a tmpfs needs root")


@contextmanager
def mounted_small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """An 8 MiB tmpfs at ``tmp_path/disk``, unmounted afterwards whatever happened."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    _mount("-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point))
    try:
        yield SmallDisk(mount_point)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, timeout=30)
