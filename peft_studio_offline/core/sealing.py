"""Secrets inside queued payloads, encrypted at rest with a key kept outside the database.

An ``Authorization`` header, a token in a body, a password in a URL: what the masking rules
(``core.masking``) hide on screen is what is encrypted before a payload is written, so the
one list of secret names serves both. A value under a secret key is replaced whole, and a
string that masking would change (a URL with a password, ``?api_key=...``, ``Bearer ...``)
is replaced by an envelope that also keeps its masked form, so searching and showing the
queue work as before::

    {"$sealed": "v1.<key id>.<nonce and ciphertext>", "shown": "https://u:***@host/x"}

The cipher is AES-256-GCM from ``cryptography``; the keys live in the credential store (the
system keyring, or the user-only credentials file where there is none) under
``queue-payload-keys``, never in the database. A payload without anything secret is stored
as it is; whether there could be anything is first looked at on the payload's JSON text
(``needs_sealing``), a few substring tests, so a metric log costs nothing more.

A queue copied to a machine without the key still lists its operations; opening their
secrets raises ``SecretsUnavailableError`` and the queue keeps them waiting with that
sentence instead of sending them without credentials.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.credentials import CredentialError
from peft_studio_offline.core.errors import InvalidOperationError, PeftStudioOfflineError
from peft_studio_offline.core.masking import (
    MAX_DEPTH,
    SEALED,
    SHOWN,
    TOO_DEEP,
    is_envelope,
    is_secret_key,
    mask_text,
)
from peft_studio_offline.core.masking import might_hold_secrets as _might_hold_secrets

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from peft_studio_offline.core.credentials import CredentialStore

log = logging.getLogger(__name__)

KEY_NAME = "queue-payload-keys"  # the credential holding the keys
# What an operation whose secrets cannot be opened waits for: the store its key lives in.
KEY_SETTING = "credentials.store"
_VERSION = "v1"
_AAD = b"peft-studio-offline queued secret v1:"
_NONCE_BYTES = 12
KEY_CACHE_SECONDS = 5.0  # another process's new or rotated key is seen this soon


class SecretsUnavailableError(PeftStudioOfflineError):
    """The secrets of a queued operation cannot be opened here (no key, or a wrong one)."""


def needs_sealing(text: str) -> bool:
    """False when a payload's JSON text certainly holds nothing to encrypt: a cheap look."""
    return SEALED in text or _might_hold_secrets(text)


def holds_sealed(value: object) -> bool:
    """Whether ``value`` holds an envelope anywhere (a payload with encrypted secrets)."""
    return bool(key_ids_in(value))


def key_ids_in(value: object) -> set[str]:
    """The ids of the keys that the envelopes in ``value`` were made with."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if is_envelope(item):
            assert isinstance(item, dict)
            found.add(str(item[SEALED]).split(".")[1] if item[SEALED].count(".") == 2 else "")
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


class PayloadSealer:
    """Encrypts the secret parts of payloads and opens them again for sending.

    ``store`` is where the keys are kept (the app's ``CredentialStore``). The first key is
    made when the first secret is sealed, under a lock file in the config folder so that
    two processes (the app and a training script) never make two.
    """

    def __init__(self, store: CredentialStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._current: str | None = None
        self._keys: dict[str, AESGCM] = {}
        self._texts: dict[str, str] = {}
        self._loaded_at = -KEY_CACHE_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> PayloadSealer:
        from peft_studio_offline.core.credentials import CredentialStore

        return cls(CredentialStore.from_settings(settings))

    # ----------------------------------------------------------------- sealing

    def seal(self, value: Any, *, fresh: bool = True) -> Any:
        """``value`` with its secrets encrypted; the same object when it holds none.

        ``fresh``: a new payload from outside, which may not hold envelopes of its own (a
        forged one would make the operation wait for a key forever). Otherwise envelopes
        already there are kept as they are (a payload read from the queue, re-queued).
        """
        try:
            return self._seal(value, 0, fresh)
        except CredentialError as exc:
            raise SecretsUnavailableError(
                f"The payload holds secrets and they cannot be encrypted: {exc}"
            ) from exc

    def _seal(self, value: Any, depth: int, fresh: bool) -> Any:
        if isinstance(value, Mapping):
            if SEALED in value:
                if fresh:
                    raise InvalidOperationError(
                        f"The payload key {SEALED!r} is kept for encrypted secrets; use"
                        " another name.",
                        field=f"payload.{SEALED}",
                    )
                if is_envelope(value):
                    return value
            if depth >= MAX_DEPTH:
                return self._deep(value)
            out: dict[Any, Any] = {}
            changed = False
            for key, item in value.items():
                if isinstance(key, str) and is_secret_key(key) and item not in (None, ""):
                    new = item if is_envelope(item) and not fresh else self._envelope(item)
                else:
                    new = self._seal(item, depth + 1, fresh)
                changed = changed or new is not item
                out[key] = new
            return out if changed else value
        if isinstance(value, list | tuple):
            if depth >= MAX_DEPTH:
                return self._deep(value)
            items = [self._seal(item, depth + 1, fresh) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items
        if isinstance(value, str):
            shown = mask_text(value)
            if shown != value:
                return self._envelope(value, shown)
        return value

    def _deep(self, value: Any) -> Any:
        """Deeper than the screen shows: sealed whole when it might hold a secret."""
        try:
            if needs_sealing(json.dumps(value, ensure_ascii=False)):
                return self._envelope(value, TOO_DEEP)
        except RecursionError:
            raise InvalidOperationError(
                "The payload is nested too deeply to keep its secrets encrypted."
            ) from None
        return value

    def _envelope(self, value: Any, shown: str | None = None) -> dict[str, str]:
        kid, cipher = self._current_key()
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = cipher.encrypt(nonce, plain, _AAD + kid.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        envelope = {SEALED: f"{_VERSION}.{kid}.{token}"}
        if shown is not None:
            envelope[SHOWN] = shown
        return envelope

    # ----------------------------------------------------------------- opening

    def unseal(self, value: Any) -> Any:
        """``value`` with every envelope opened; the same object when it holds none.

        Raises ``SecretsUnavailableError`` with a sentence when a key is missing or wrong.
        """
        if is_envelope(value):
            return self._open(value[SEALED])
        if isinstance(value, Mapping):
            out = {key: self.unseal(item) for key, item in value.items()}
            changed = any(out[key] is not item for key, item in value.items())
            return out if changed else value
        if isinstance(value, list | tuple):
            items = [self.unseal(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items
        return value

    def _open(self, text: str) -> Any:
        version, _, rest = text.partition(".")
        kid, _, token = rest.partition(".")
        if version != _VERSION or not kid or not token:
            raise SecretsUnavailableError(
                "Its secrets are stored in a form this version cannot read."
            )
        from cryptography.exceptions import InvalidTag

        cipher = self._key(kid)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _AAD + kid.encode())
        except (InvalidTag, ValueError):
            raise SecretsUnavailableError(
                f"Its secrets cannot be decrypted with the key {kid} kept here: they were"
                " changed, or the key was replaced."
            ) from None
        return json.loads(plain)

    def _key(self, kid: str) -> AESGCM:
        with self._lock:
            cipher = self._keys.get(kid)
        if cipher is None:
            try:
                self._load(force=True)
            except CredentialError as exc:
                raise SecretsUnavailableError(
                    f"The key of its secrets cannot be read: {exc}"
                ) from exc
            with self._lock:
                cipher = self._keys.get(kid)
        if cipher is None:
            raise SecretsUnavailableError(
                f"Its secrets were encrypted with a key ({kid}) that this machine does not"
                f" have, and it is not sent without them. {self.store.describe()} Restore the"
                f" credential {KEY_NAME!r} there, or queue the operation again."
            )
        return cipher

    # -------------------------------------------------------------------- keys

    def _current_key(self) -> tuple[str, AESGCM]:
        self._load()
        with self._lock:
            if self._current is not None:
                return self._current, self._keys[self._current]
        with _file_lock(self._lock_file()):
            self._load(force=True)  # another process may have made it meanwhile
            with self._lock:
                if self._current is None:
                    kid, keys = _new_key(), self._key_texts()
                    self._save(kid, {kid: _encode_key(_new_key_bytes()), **keys})
                assert self._current is not None
                return self._current, self._keys[self._current]

    def rotate(self) -> str:
        """Make a new key the one new secrets are sealed with; returns its id.

        The older keys stay until ``retire`` removes them, once nothing uses them.
        """
        with _file_lock(self._lock_file()):
            self._load(force=True)
            with self._lock:
                kid = _new_key()
                self._save(kid, {kid: _encode_key(_new_key_bytes()), **self._key_texts()})
        log.info("A new key for queued secrets was made (%s).", kid)
        return kid

    def retire(self, in_use: set[str]) -> list[str]:
        """Remove every key but the current one and those in ``in_use``; returns their ids."""
        with _file_lock(self._lock_file()):
            self._load(force=True)
            with self._lock:
                if self._current is None:
                    return []
                keep = in_use | {self._current}
                texts = self._key_texts()
                gone = sorted(set(texts) - keep)
                if gone:
                    self._save(self._current, {k: v for k, v in texts.items() if k in keep})
        if gone:
            log.info("Keys of queued secrets removed: %s.", ", ".join(gone))
        return gone

    @property
    def current_key_id(self) -> str | None:
        self._load(force=True)
        return self._current

    def _load(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < KEY_CACHE_SECONDS:
            return
        text = self.store.get(KEY_NAME, refresh=True)
        current, keys = _parse_keys(text)
        with self._lock:
            self._current = current
            self._keys = {kid: _cipher(key) for kid, key in keys.items()}
            self._texts = {kid: _encode_key(key) for kid, key in keys.items()}
            self._loaded_at = time.monotonic()

    def _key_texts(self) -> dict[str, str]:
        return dict(self._texts)

    def _save(self, current: str, texts: dict[str, str]) -> None:
        """Write the keys (caller holds both locks) and use them from now on."""
        self.store.set(KEY_NAME, json.dumps({"current": current, "keys": texts}))
        self._current = current
        self._texts = dict(texts)
        self._keys = {kid: _cipher(_decode_key(text)) for kid, text in texts.items()}
        self._loaded_at = time.monotonic()

    def _lock_file(self) -> Path:
        return Path(self.store.paths.config_dir) / "queue-payload-keys.lock"


def seal_with(sealer: PayloadSealer | None, *, fresh: bool) -> Callable[[Any], Any] | None:
    """The codec's ``seal`` callback for ``sealer`` (None: payloads are stored as given)."""
    if sealer is None:
        return None
    return lambda payload: sealer.seal(payload, fresh=fresh)


def _cipher(key: bytes) -> AESGCM:
    # Imported on first use: a command that only reads the queue never needs it.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _new_key_bytes() -> bytes:
    return os.urandom(32)  # AES-256


def _new_key() -> str:
    return secrets.token_hex(4)


def _encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _decode_key(text: str) -> bytes:
    key = base64.b64decode(text, validate=True)
    if len(key) != 32:
        raise ValueError("not a 256-bit key")
    return key


def _parse_keys(text: str | None) -> tuple[str | None, dict[str, bytes]]:
    if not text:
        return None, {}
    try:
        data = json.loads(text)
        keys = {str(kid): _decode_key(value) for kid, value in data["keys"].items()}
        current = str(data["current"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CredentialError(
            f"The credential {KEY_NAME!r} does not hold keys this version can read ({exc})."
        ) from None
    return (current if current in keys else None), keys


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Held by one process at a time (the keys are read, changed and written under it)."""
    from peft_studio_offline.core.paths import ensure_private_dir

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the keyring is per user session
        yield
        return
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
