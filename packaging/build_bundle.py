"""Build the one-folder bundle of PEFT Studio Offline with PyInstaller, then check it.

    python packaging/build_bundle.py [--dist DIR] [--work DIR] [--no-check]

Needs the ``package`` extra (``pip install -e '.[package]'``). The bundle lands in
``packaging/dist/peft-studio-offline/``; its program ``peft-studio-offline`` is the same
command as the installed one (the window without arguments, the CLI with them). After the
build the program is run with ``--version`` and ``--self-test`` (offscreen, a temporary
queue), and the script fails when either fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "peft-studio-offline.spec"
NAME = "peft-studio-offline"


def program_path(dist: Path) -> Path:
    suffix = ".exe" if sys.platform == "win32" else ""
    return dist / NAME / f"{NAME}{suffix}"


def build(dist: Path, work: Path) -> Path:
    """Run PyInstaller on the spec; returns the built program."""
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", str(dist), "--workpath", str(work), str(SPEC),
    ]  # fmt: skip
    subprocess.run(command, check=True)
    program = program_path(dist)
    if not program.is_file():
        raise SystemExit(f"PyInstaller finished but {program} is missing.")
    return program


def check(program: Path) -> None:
    """Run ``--version`` and ``--self-test`` in a clean environment, as a user would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEFT_STUDIO_OFFLINE_")}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must go offscreen by itself
    with tempfile.TemporaryDirectory(prefix="peft-studio-offline-bundle-") as home:
        env["PEFT_STUDIO_OFFLINE_HOME"] = home
        for argument in ("--version", "--self-test"):
            print(f"$ {program} {argument}", flush=True)
            subprocess.run([str(program), argument], check=True, env=env, timeout=180)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=HERE / "dist", help="bundle output folder")
    parser.add_argument("--work", type=Path, default=HERE / "build", help="PyInstaller work folder")
    parser.add_argument("--no-check", action="store_true", help="skip --version and --self-test")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        program = build(args.dist.resolve(), args.work.resolve())
        print(f"Built {program} in {time.monotonic() - started:.0f} s.", flush=True)
        if not args.no_check:
            check(program)
    except subprocess.CalledProcessError as exc:
        print(f"build_bundle: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
