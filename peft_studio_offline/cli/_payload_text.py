"""Where the PAYLOAD_JSON argument's text comes from: the argument, a file, or stdin.

A command-line argument is limited to 128 KiB by the kernel, so larger payloads come from
``@FILE`` (a file's contents) or ``-`` (standard input), as curl and httpie read bodies.
"""

from __future__ import annotations

import sys
from pathlib import Path

from peft_studio_offline.cli._parser import UsageError


def payload_text(argument: str) -> str:
    """The JSON text the argument names; ``UsageError`` when it cannot be read."""
    if argument == "-":
        try:
            return sys.stdin.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"The payload could not be read from standard input ({exc})."
            ) from None
    if argument.startswith("@"):
        if not argument[1:].strip():
            raise UsageError("Give a file name after '@' (for example @payload.json).")
        path = Path(argument[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"The payload file {path} is not UTF-8 text.") from None
        except OSError as exc:
            raise UsageError(f"The payload file {path} cannot be read ({exc.strerror}).") from None
    return argument
