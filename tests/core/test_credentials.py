"""Credentials: the keyring when one is usable, else an explicit user-only file."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked, PasswordDeleteError

from peft_studio_offline.core.credentials import SERVICE_NAME, CredentialError, CredentialStore
from peft_studio_offline.core.logs import forget_secrets, mask_log_text
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import Settings

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


class MemoryKeyring(KeyringBackend):
    """A complete keyring backend that keeps its secrets in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


class LockedKeyring(MemoryKeyring):
    """A backend that looks usable but refuses every call, like a locked secret service."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the collection is locked")


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths.under(tmp_path / "app")


@pytest.fixture(autouse=True)
def _forget_registered_secrets() -> None:
    forget_secrets()


def test_keyring_keeps_secrets_and_no_file_is_written(paths: AppPaths) -> None:
    backend = MemoryKeyring()
    store = CredentialStore(paths, keyring_backend=backend)
    assert store.uses_keyring and store.fallback_reason is None
    assert store.get("mlflow") is None
    store.set("mlflow", "s3cr3t-value")
    assert backend.secrets == {(SERVICE_NAME, "mlflow"): "s3cr3t-value"}
    # A second store (another process) reads what the first stored.
    assert CredentialStore(paths, keyring_backend=backend).get("mlflow") == "s3cr3t-value"
    assert store("mlflow") == "s3cr3t-value"  # the store is the engine's credential lookup
    assert store.delete("mlflow") is True
    assert store.delete("mlflow") is False
    assert store.get("mlflow") is None
    assert not paths.credentials_file.exists()
    assert "system keyring" in store.describe()


def test_empty_name_means_no_credential(paths: AppPaths) -> None:
    assert CredentialStore(paths, keyring_backend=MemoryKeyring()).get("") is None


@posix_only
def test_without_a_keyring_auto_falls_back_to_a_private_file_and_says_so(
    paths: AppPaths, caplog: pytest.LogCaptureFixture
) -> None:
    store = CredentialStore(paths, "auto", keyring_backend=fail.Keyring())
    with caplog.at_level(logging.WARNING):
        store.set("api", "token-1234")
    assert not store.uses_keyring
    assert store.fallback_reason == "No system keyring is available on this machine."
    assert str(paths.credentials_file) in store.describe()
    assert any("No system keyring" in r.getMessage() for r in caplog.records)
    assert stat.S_IMODE(paths.credentials_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.config_dir.stat().st_mode) == 0o700
    data = tomllib.loads(paths.credentials_file.read_text())
    assert data == {"secrets": {"api": "token-1234"}}
    other = CredentialStore(paths, "auto", keyring_backend=fail.Keyring())
    assert other.get("api") == "token-1234"
    assert other.delete("api") is True
    assert tomllib.loads(paths.credentials_file.read_text()) == {"secrets": {}}
    assert not paths.database.exists()  # never the queue database


def test_file_store_is_an_explicit_choice(paths: AppPaths) -> None:
    backend = MemoryKeyring()
    store = CredentialStore(paths, "file", keyring_backend=backend)
    store.set("api", "abcd-efgh")
    assert backend.secrets == {}
    assert store.fallback_reason is None
    assert "chosen in settings" in store.describe()
    assert CredentialStore(paths, "file").get("api") == "abcd-efgh"


def test_keyring_only_fails_clearly_when_there_is_none(paths: AppPaths) -> None:
    store = CredentialStore(paths, "keyring", keyring_backend=fail.Keyring())
    for _ in range(2):  # every call, not only the first
        with pytest.raises(CredentialError, match=r"credentials\.store"):
            store.get("api")
    with pytest.raises(CredentialError):
        store.set("api", "x1234")
    assert not paths.credentials_file.exists()


def test_a_failing_keyring_is_a_known_error(paths: AppPaths) -> None:
    store = CredentialStore(paths, keyring_backend=LockedKeyring())
    with pytest.raises(CredentialError, match=r"could not read the secret 'api'.*locked"):
        store.get("api")
    with pytest.raises(CredentialError, match="could not store"):
        store.set("api", "abcd1234")
    assert not paths.credentials_file.exists()  # no silent move of secrets to a file


@posix_only
def test_a_loosened_file_is_tightened_on_read(paths: AppPaths) -> None:
    store = CredentialStore(paths, "file")
    store.set("api", "abcd1234")
    paths.credentials_file.chmod(0o644)
    assert CredentialStore(paths, "file").get("api") == "abcd1234"
    assert stat.S_IMODE(paths.credentials_file.stat().st_mode) == 0o600


def test_a_damaged_file_is_a_known_error(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.credentials_file.write_text("[secrets]\napi = 5\n")
    with pytest.raises(CredentialError, match="table of strings"):
        CredentialStore(paths, "file").get("api")
    paths.credentials_file.write_text("not toml [")
    with pytest.raises(CredentialError, match="cannot be read"):
        CredentialStore(paths, "file").get("api")


@pytest.mark.parametrize("name", ["", " api", "a b", "x" * 129, "semi;colon"])
def test_invalid_names_are_refused(paths: AppPaths, name: str) -> None:
    store = CredentialStore(paths, "file")
    with pytest.raises(CredentialError, match="name"):
        store.set(name, "abcd1234")


def test_unknown_store_is_refused(paths: AppPaths) -> None:
    with pytest.raises(CredentialError, match="not one of auto, keyring, file"):
        CredentialStore(paths, "vault")


def test_store_from_settings(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_text("[credentials]\nstore = 'file'\nmlflow_token = 'prod'\n")
    settings = Settings.load(paths, environ={})
    store = CredentialStore.from_settings(settings, keyring_backend=MemoryKeyring())
    store.set(settings.credentials.mlflow_token, "tok-9876")
    assert tomllib.loads(paths.credentials_file.read_text())["secrets"] == {"prod": "tok-9876"}


def test_secrets_read_or_stored_are_masked_in_logs(paths: AppPaths) -> None:
    store = CredentialStore(paths, keyring_backend=MemoryKeyring())
    store.set("api", "plain-looking-value")
    assert mask_log_text("sent plain-looking-value to the server") == "sent *** to the server"


def test_system_keyring_answer_is_consistent(paths: AppPaths) -> None:
    # Whatever this machine offers: either the keyring is used, or the reason is given.
    store = CredentialStore(paths)
    assert store.uses_keyring != (store.fallback_reason is not None)


def test_loading_settings_does_not_import_keyring(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from peft_studio_offline.core.settings import Settings\n"
        "import peft_studio_offline.core.credentials\n"
        "Settings.load()\n"
        "print('keyring' in sys.modules)\n"
    )
    env = {"PEFT_STUDIO_OFFLINE_HOME": str(tmp_path / "h"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "False"
