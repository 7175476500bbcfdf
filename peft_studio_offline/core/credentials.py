"""Secrets (tokens, passwords), kept in the system keyring and referenced by name.

Settings hold only names (``[credentials]`` in ``settings.toml``); the secrets live in the
system keyring under the service ``peft-studio-offline``. Where no keyring backend can be
used (a headless server, a desktop without a secret service), the store says so
(``fallback_reason``) and keeps them in ``credentials.toml`` in the config directory instead,
a file only the user can read (0600, folder 0700). Secrets never go to the queue database
in plain text: those inside queued payloads are encrypted there (``core.sealing``).

``keyring`` is imported on first use, not at import: finding a backend can take a while.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.logs import register_secret
from peft_studio_offline.core.paths import AppPaths, is_private, write_private_file

log = logging.getLogger(__name__)

SERVICE_NAME = "peft-studio-offline"
STORES = ("auto", "keyring", "file")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,127}$")
_FILE_HEADER = (
    "# PEFT Studio Offline secrets, kept here because no system keyring could be used.\n"
    "# Readable by you alone; do not share or commit this file.\n\n"
)


class CredentialError(PeftStudioOfflineError):
    """A secret could not be read, stored or removed."""


def validate_name(name: str) -> str:
    """A credential name: letters, digits and ``._@:/-``, at most 128 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CredentialError(
            f"The credential name {name!r} is not valid: use letters, digits and . _ @ : / - "
            "(at most 128 characters)."
        )
    return name


class CredentialStore:
    """Get, set and delete secrets by name.

    ``store`` is ``"auto"`` (the keyring when one is usable, else the file), ``"keyring"``
    (the keyring or an error) or ``"file"`` (always the file: an explicit choice for
    headless machines). ``keyring_backend`` replaces the system's choice of backend (a
    ``keyring.backend.KeyringBackend``), for embedding and tests.

    Values read are cached in memory and registered with the log filter so that they are
    masked wherever they would appear in a log line.
    """

    def __init__(
        self,
        paths: AppPaths,
        store: str = "auto",
        *,
        keyring_backend: Any = None,
        service: str = SERVICE_NAME,
    ) -> None:
        if store not in STORES:
            raise CredentialError(
                f"The credential store {store!r} is not one of {', '.join(STORES)}."
            )
        self.paths = paths
        self.store = store
        self.service = service
        self._backend = keyring_backend
        self._resolved = False
        self._fallback_reason: str | None = None
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> CredentialStore:
        """The store that ``settings.credentials.store`` asks for."""
        return cls(settings.paths, settings.credentials.store, **options)

    # ------------------------------------------------------------------ which backend

    @property
    def file(self) -> Path:
        return self.paths.credentials_file

    @property
    def uses_keyring(self) -> bool:
        self._resolve()
        return self._backend is not None

    @property
    def fallback_reason(self) -> str | None:
        """Why secrets go to the file instead of the keyring (None when the keyring is used,
        or when the file was chosen in settings)."""
        self._resolve()
        return self._fallback_reason

    def describe(self) -> str:
        """One sentence for the user: where secrets are kept."""
        self._resolve()
        if self._backend is not None:
            return f"Secrets are kept in the system keyring ({_backend_name(self._backend)})."
        if self._fallback_reason:
            return (
                f"{self._fallback_reason} Secrets are kept in {self.file}, readable by you alone."
            )
        return f"Secrets are kept in {self.file}, readable by you alone (chosen in settings)."

    def _resolve(self) -> None:
        with self._lock:
            if not self._resolved:
                self._resolved = True
                if self.store == "file":
                    self._backend = None
                elif self._backend is None:
                    self._backend, self._fallback_reason = _system_backend()
                else:
                    self._fallback_reason = _unusable_reason(self._backend)
                    if self._fallback_reason:
                        self._backend = None
                if self._fallback_reason and self.store == "auto":
                    log.warning("%s Using %s instead.", self._fallback_reason, self.file)
        if self._backend is None and self.store == "keyring":
            raise CredentialError(
                f"{self._fallback_reason} The settings ask for the keyring only "
                "(credentials.store = 'keyring'); set it to 'auto' or 'file' to use a "
                "user-only file instead."
            )

    # --------------------------------------------------------------------- operations

    def get(self, name: str, *, refresh: bool = False) -> str | None:
        """The secret called ``name``, or None when there is none (or ``name`` is empty).

        ``refresh`` reads it again rather than from memory (another process may change it).
        """
        if not name:
            return None
        validate_name(name)
        with self._lock:
            if name in self._cache and not refresh:
                return self._cache[name]
        self._resolve()
        if self._backend is not None:
            secret = self._keyring_call("read", self._backend.get_password, self.service, name)
        else:
            secret = self._read_file().get(name)
        if secret:
            register_secret(secret)
        with self._lock:
            self._cache[name] = secret or None
        return secret or None

    __call__ = get  # a store is the ``credential(name)`` lookup the sync engine takes

    def set(self, name: str, secret: str) -> None:
        """Keep ``secret`` under ``name``, replacing any secret of that name."""
        validate_name(name)
        if not isinstance(secret, str) or not secret:
            raise CredentialError(f"The secret for {name!r} must be a non-empty string.")
        self._resolve()
        if self._backend is not None:
            self._keyring_call("store", self._backend.set_password, self.service, name, secret)
        else:
            secrets = self._read_file()
            secrets[name] = secret
            self._write_file(secrets)
        register_secret(secret)
        with self._lock:
            self._cache[name] = secret

    def delete(self, name: str) -> bool:
        """Remove the secret called ``name``; False when there was none."""
        validate_name(name)
        self._resolve()
        with self._lock:
            self._cache.pop(name, None)
        if self._backend is not None:
            from keyring.errors import PasswordDeleteError

            try:
                self._backend.delete_password(self.service, name)
            except PasswordDeleteError:
                return False
            except Exception as exc:
                raise CredentialError(
                    f"The secret {name!r} could not be removed from the keyring ({exc})."
                ) from exc
            return True
        secrets = self._read_file()
        if name not in secrets:
            return False
        del secrets[name]
        self._write_file(secrets)
        return True

    def _keyring_call(self, verb: str, method: Any, *args: str) -> Any:
        try:
            return method(*args)
        except Exception as exc:
            # A backend that looked usable can still fail (locked, no session bus):
            # a known error for the user, not a traceback.
            raise CredentialError(
                f"The system keyring ({_backend_name(self._backend)}) could not {verb} the "
                f"secret {args[1]!r} ({exc})."
            ) from exc

    # ---------------------------------------------------------------------- the file

    def _read_file(self) -> dict[str, str]:
        path = self.file
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CredentialError(f"The credentials file {path} cannot be read ({exc}).") from exc
        if not is_private(path):
            # Someone loosened it; put it back rather than keep secrets readable by others.
            path.chmod(0o600)
            log.warning("The credentials file %s was readable by others; now 0600.", path)
        secrets = data.get("secrets", {})
        if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
            raise CredentialError(
                f"The credentials file {path} must hold a [secrets] table of strings."
            )
        return dict(secrets)

    def _write_file(self, secrets: dict[str, str]) -> None:
        text = _FILE_HEADER + tomli_w.dumps({"secrets": dict(sorted(secrets.items()))})
        try:
            write_private_file(self.file, text.encode())
        except OSError as exc:
            raise CredentialError(
                f"The credentials file {self.file} cannot be written ({exc})."
            ) from exc


def _backend_name(backend: Any) -> str:
    cls = type(backend)
    return str(getattr(backend, "name", "") or f"{cls.__module__}.{cls.__qualname__}")


def _system_backend() -> tuple[Any, str | None]:
    """The keyring backend the system offers, or None and a sentence saying why not."""
    try:
        import keyring
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        return None, f"The keyring package cannot be loaded ({exc})."
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        return None, f"No system keyring could be set up ({exc})."
    reason = _unusable_reason(backend)
    return (None, reason) if reason else (backend, None)


def _unusable_reason(backend: Any) -> str | None:
    """Why ``backend`` cannot keep secrets, or None when it can."""
    from keyring.backends import fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return "No system keyring is available on this machine."
    if getattr(backend, "backends", None) == []:  # a chainer with nothing to chain
        return "No system keyring is available on this machine."
    try:
        usable = float(getattr(backend, "priority", 1)) > 0
    except Exception as exc:  # some backends compute priority and raise when unusable
        return f"The system keyring ({_backend_name(backend)}) cannot be used ({exc})."
    if not usable:
        return f"The system keyring ({_backend_name(backend)}) is not usable here."
    return None
