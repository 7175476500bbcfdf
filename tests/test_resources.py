"""Desktop integration files: the icon, the .desktop entry and the AppStream metainfo."""

from __future__ import annotations

import configparser
import importlib.util
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from peft_studio_offline._version import __version__

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
APP_ID = "io.github.peftstudio.Offline"
DESKTOP = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
SVG = RESOURCES / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def run_validator(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (packaging/bootstrap.sh installs it on Debian)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def test_desktop_entry_passes_desktop_file_validate() -> None:
    result = run_validator("desktop-file-validate", str(DESKTOP))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout  # not even a hint


def test_metainfo_passes_appstreamcli_validate() -> None:
    # Without --strict: newer AppStream versions add informational notes (deprecations of
    # tags older versions still require); warnings and errors fail.
    result = run_validator("appstreamcli", "validate", "--no-net", str(METAINFO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validators_do_catch_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / f"{APP_ID}.desktop"
    broken.write_text(DESKTOP.read_text().replace("Type=Application\n", ""))
    assert run_validator("desktop-file-validate", str(broken)).returncode != 0
    bad = tmp_path / f"{APP_ID}.metainfo.xml"
    bad.write_text(METAINFO.read_text().replace("<summary>", "<summary>.").replace("<id>", "<x>"))
    assert run_validator("appstreamcli", "validate", "--no-net", str(bad)).returncode != 0


def test_desktop_entry_launches_the_installed_command_with_the_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(DESKTOP, encoding="utf-8")
    group = entry["Desktop Entry"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert group["Exec"].split()[0] in scripts
    assert group["Icon"] == APP_ID
    assert group["Name"] == "PEFT Studio Offline"


def test_metainfo_names_this_app_and_its_desktop_entry() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable") == DESKTOP.name
    assert root.findtext("name") == "PEFT Studio Offline"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert root.findtext("project_license") == project["license"]
    releases = [r.get("version") for r in root.iter("release")]
    assert __version__ in releases


def test_svg_icon_is_a_square_svg() -> None:
    root = ET.parse(SVG).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    x, y, width, height = (float(v) for v in root.get("viewBox", "").split())
    assert (x, y) == (0, 0) and width == height


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("size", SIZES)
def test_png_icon_of_each_size(size: int) -> None:
    path = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert png_size(path) == (size, size)


def load_render_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_icons", ROOT / "packaging/render_icons.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pngs_are_rendered_from_the_current_svg(tmp_path: Path) -> None:
    pytest.importorskip("PySide6.QtSvg")
    from PySide6.QtGui import QImage

    script = load_render_script()
    assert tuple(script.SIZES) == SIZES
    for fresh in script.render(SVG, (32, 128), tmp_path):
        size = png_size(fresh)[0]
        committed = RESOURCES / "icons" / "hicolor" / f"{size}x{size}" / "apps" / fresh.name
        a, b = QImage(str(fresh)), QImage(str(committed))
        assert a.size() == b.size()
        # Antialiasing may differ by a shade between Qt versions; a changed SVG differs a lot.
        differing = sum(
            1
            for yy in range(size)
            for xx in range(size)
            if max(abs(c1 - c2) for c1, c2 in zip(rgba(a, xx, yy), rgba(b, xx, yy), strict=True))
            > 16
        )
        assert differing <= size * size // 100, f"{committed} is out of date: run render_icons.py"


def rgba(image: object, x: int, y: int) -> tuple[int, int, int, int]:
    color = image.pixelColor(x, y)  # type: ignore[attr-defined]
    return color.red(), color.green(), color.blue(), color.alpha()
