"""A real Secret Service for tests: GNOME Keyring on a private D-Bus session.

``packaging/bootstrap.sh test`` installs ``gnome-keyring`` and ``dbus`` (as root, on
Debian). ``secret_service(home)`` starts ``dbus-run-session`` with an unlocked login keyring
kept under ``home`` and yields the environment a child process needs to use it; the
session, and the keyring daemon with it, ends when the block does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PROGRAMS = ("dbus-run-session", "gnome-keyring-daemon")
# Unlocks (or makes) the login keyring, says where the bus is, then lives until stdin closes.
_SESSION = (
    'printf "%s" "$0" | gnome-keyring-daemon --unlock --components=secrets >/dev/null'
    ' && echo "$DBUS_SESSION_BUS_ADDRESS" && exec cat'
)


def unavailable_reason() -> str | None:
    """Why no Secret Service can be started here, or None when it can."""
    missing = [name for name in _PROGRAMS if shutil.which(name) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not installed: the Debian packages gnome-keyring and dbus"
            " are installed by 'packaging/bootstrap.sh test' when it runs as root."
        )
    return None


@contextmanager
def secret_service(home: Path) -> Iterator[dict[str, str]]:
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_RUNTIME_DIR": str(home / "run"),
    }
    (home / "run").mkdir(mode=0o700, exist_ok=True)
    session = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", _SESSION, "keyring-password"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert session.stdin is not None and session.stdout is not None
    try:
        address = session.stdout.readline().strip()
        if not address:
            raise RuntimeError("The D-Bus session with GNOME Keyring did not start.")
        yield {**env, "DBUS_SESSION_BUS_ADDRESS": address}
    finally:
        session.stdin.close()
        try:
            session.wait(10)
        except subprocess.TimeoutExpired:
            session.kill()
            session.wait(10)
        session.stdout.close()
