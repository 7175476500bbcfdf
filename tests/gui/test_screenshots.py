"""The README's gallery script at 2x, with a dark palette and mirrored (-reverse)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "screenshot.py"


def _shoot(output: Path, *options: str) -> QImage:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(output), *options],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    image = QImage(str(output))
    assert not image.isNull()
    return image


def _ink_share(image: QImage, left: int, right: int, top: int, bottom: int) -> float:
    """The share of pixels in the box that differ from its first pixel (text, icons)."""
    background = image.pixel(left, top)
    pixels = [image.pixel(x, y) for y in range(top, bottom) for x in range(left, right)]
    return sum(1 for p in pixels if p != background) / len(pixels)


@pytest.mark.slow
def test_the_gallery_at_2x_dark_and_mirrored(tmp_path: Path) -> None:
    plain = _shoot(tmp_path / "plain.png")
    double = _shoot(tmp_path / "double.png", "--scale", "2")
    assert double.width() == 2 * plain.width() and double.height() == 2 * plain.height()
    assert double.devicePixelRatio() in (1.0, 2.0)
    dark = _shoot(tmp_path / "dark.png", "--dark")
    lightness = [
        dark.pixelColor(x, y).lightnessF()
        for y in range(0, dark.height(), 7)
        for x in range(0, dark.width(), 7)
    ]
    assert sum(lightness) / len(lightness) < 0.3
    mirrored = _shoot(tmp_path / "mirrored.png", "-reverse")
    # The menu bar starts on the right: its left end is empty, its right end has titles.
    bar = (0, 8)
    assert _ink_share(mirrored, 0, 300, *bar) < _ink_share(
        mirrored, mirrored.width() - 300, mirrored.width(), *bar
    )
    assert _ink_share(plain, 0, 300, *bar) > _ink_share(
        plain, plain.width() - 300, plain.width(), *bar
    )
    for name in ("double-details.png", "dark-details.png", "mirrored-details.png"):
        assert (tmp_path / name).stat().st_size > 10_000
