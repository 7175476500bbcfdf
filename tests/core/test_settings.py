"""Settings: the file, validation, environment overrides and the writer."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import ConflictResolution, OverflowPolicy
from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import (
    ENVIRONMENT_VARIABLES,
    SECTIONS,
    Settings,
    endpoints_from_settings,
    file_mapping,
    save_settings,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths.under(tmp_path / "app")


def write(paths: AppPaths, text: str) -> Path:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text(text, encoding="utf-8")
    return paths.settings_file


def test_no_file_gives_the_defaults_and_creates_nothing(paths: AppPaths) -> None:
    settings = Settings.load(paths, environ={})
    assert settings == Settings(paths)
    assert settings.problems == ()
    assert settings.sync.conflict_strategy is ConflictResolution.LOCAL_WINS
    assert not paths.config_dir.exists()


def test_valid_file_is_read_into_typed_values(paths: AppPaths) -> None:
    write(
        paths,
        """
        [queue]
        max_attempts = 7
        overflow = "drop_oldest"
        lease_seconds = 12
        [network]
        check_interval = 2.5
        endpoints = [
            "http://127.0.0.1:9/health",
            {url = "http://127.0.0.1:9/", expected_body = "ok"},
        ]
        [sync]
        auto_sync = false
        conflict_strategy = "merge"
        api_base_url = "http://127.0.0.1:5000/api"
        upload_roots = ["/data/runs"]
        [api]
        port = 0
        [credentials]
        mlflow_token = "mlflow-prod"
        store = "FILE"
        [logging]
        level = "debug"
        """,
    )
    settings = Settings.load(paths, environ={})
    assert settings.problems == ()
    assert settings.queue.max_attempts == 7
    assert settings.queue.overflow is OverflowPolicy.DROP_OLDEST
    assert settings.queue.lease_seconds == 12.0 and isinstance(settings.queue.lease_seconds, float)
    assert settings.network.check_interval == 2.5
    assert settings.network.endpoints == (
        "http://127.0.0.1:9/health",
        {"url": "http://127.0.0.1:9/", "expected_body": "ok"},
    )
    assert settings.sync.auto_sync is False
    assert settings.sync.conflict_strategy is ConflictResolution.MERGE
    assert settings.sync.upload_roots == ("/data/runs",)
    assert settings.api.port == 0
    assert settings.credentials.mlflow_token == "mlflow-prod"
    assert settings.credentials.store == "file"
    assert settings.logging.level == "DEBUG"


def test_the_object_is_immutable(paths: AppPaths) -> None:
    settings = Settings.load(paths, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.sync.batch_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[sync]\nbatch_size = 0\n", "'sync.batch_size' must be greater than zero, not 0"),
        ("[sync]\nbatch_size = 'ten'\n", "'sync.batch_size' must be an integer, not 'ten'"),
        ("[sync]\nauto_sync = 1\n", "'sync.auto_sync' must be true or false"),
        ("[sync]\nconflict_strategy = 'mine'\n", "'sync.conflict_strategy' must be one of"),
        (
            "[sync]\napi_base_url = 'ftp://x'\n",
            "'sync.api_base_url' must be an http:// or https://",
        ),
        ("[sync]\nbatchsize = 5\n", "Unknown settings key 'sync.batchsize'"),
        ("[sinc]\nbatch_size = 5\n", "Unknown settings section 'sinc'"),
        ("sync = 5\n", "Settings key 'sync' must be a table"),
        ("[api]\nport = 70000\n", "'api.port' must be a port number"),
        ("[api]\nhost = '0.0.0.0'\n", "'api.host' must be a loopback address"),
        ("[logging]\nlevel = 'loud'\n", "'logging.level' must be one of DEBUG, INFO"),
        ("[credentials]\nstore = 'vault'\n", "'credentials.store' must be one of auto, keyring"),
        ("[network]\nendpoints = [{url = 'http://h/', expected = 1}]\n", "unknown key 'expected'"),
        ("[network]\nendpoints = ['not a url']\n", "'network.endpoints' must be a list of http(s)"),
        ("[network]\nendpoints = [{url = 'http://h/', expected_status = 9}]\n", "HTTP status"),
        ("[sync]\nupload_roots = [1]\n", "'sync.upload_roots' must be a list of strings"),
        ("[sync\nbatch_size = 5\n", "is not valid TOML"),
    ],
)
def test_an_invalid_key_is_named_keeps_its_default_and_the_rest_of_the_file_is_used(
    paths: AppPaths, text: str, fragment: str
) -> None:
    # A valid key next to the bad one is kept: one typing mistake must not drop the sync
    # targets, nor leave the Settings dialog showing empty fields that a save would write.
    path = write(paths, "[queue]\nmax_attempts = 9\n" + text if text.startswith("[") else text)
    before = path.read_bytes()
    settings = Settings.load(paths, environ={})
    assert settings.problems, "the problem must be reported"
    assert any(fragment in p for p in settings.problems), settings.problems
    if text.startswith("[") and "not valid TOML" not in fragment:
        assert settings.queue.max_attempts == 9
    else:  # not TOML, or not tables at all: nothing can be told apart, defaults throughout
        assert settings.queue == Settings(paths).queue
    key = fragment.split("'")[1] if fragment.count("'") >= 2 else ""
    if key.count(".") == 1 and not fragment.startswith("Unknown"):
        section, name = key.split(".")
        default = getattr(getattr(Settings(paths), section), name)
        assert getattr(getattr(settings, section), name) == default, key
    assert path.read_bytes() == before


def test_every_problem_is_reported_not_only_the_first(paths: AppPaths) -> None:
    write(paths, "[sync]\nbatch_size = -1\nconcurrency = 'x'\n[api]\nport = -5\n")
    problems = Settings.load(paths, environ={}).problems
    assert len(problems) == 3
    assert all(str(paths.settings_file) in p for p in problems)


def test_unreadable_bytes_are_a_problem_not_a_crash(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.settings_file.write_bytes(b"\xff\xfe[sync]\x00")
    settings = Settings.load(paths, environ={})
    assert len(settings.problems) == 1
    assert str(paths.settings_file) in settings.problems[0]


def test_from_mapping_raises_with_the_key(paths: AppPaths) -> None:
    with pytest.raises(SettingsError, match=r"'queue\.max_attempts'"):
        Settings.from_mapping(paths, {"queue": {"max_attempts": 0}})


# --------------------------------------------------------------------- environment


def test_environment_overrides_the_file(paths: AppPaths) -> None:
    write(paths, "[sync]\napi_base_url = 'http://127.0.0.1:1/file'\nauto_sync = true\n")
    env = {
        "PEFT_STUDIO_OFFLINE_API_BASE_URL": " http://127.0.0.1:2/env ",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:3",
        "PEFT_STUDIO_OFFLINE_API_PORT": "9000",
        "PEFT_STUDIO_OFFLINE_AUTO_SYNC": "off",
        "PEFT_STUDIO_OFFLINE_CONFLICT_STRATEGY": "remote_wins",
        "PEFT_STUDIO_OFFLINE_CHECK_INTERVAL": "1.5",
        "PEFT_STUDIO_OFFLINE_LOG_LEVEL": "warning",
        "PEFT_STUDIO_OFFLINE_CREDENTIAL_STORE": "file",
    }
    settings = Settings.load(paths, environ=env)
    assert settings.problems == ()
    assert settings.sync.api_base_url == "http://127.0.0.1:2/env"
    assert settings.sync.mlflow_tracking_uri == "http://127.0.0.1:3"
    assert settings.api.port == 9000
    assert settings.sync.auto_sync is False
    assert settings.sync.conflict_strategy is ConflictResolution.REMOTE_WINS
    assert settings.network.check_interval == 1.5
    assert settings.logging.level == "WARNING"
    assert settings.credentials.store == "file"
    assert settings.overridden_by("sync.api_base_url") == "PEFT_STUDIO_OFFLINE_API_BASE_URL"
    assert settings.overridden_by("sync.batch_size") is None
    assert {o.variable for o in settings.overrides} == set(env)


def test_every_documented_variable_names_a_real_key() -> None:
    for variable in ENVIRONMENT_VARIABLES:
        section, name = variable.key.split(".")
        assert name in {f.name for f in dataclasses.fields(SECTIONS[section])}


def test_an_invalid_variable_is_ignored_and_reported(paths: AppPaths) -> None:
    write(paths, "[api]\nport = 8000\n")
    env = {"PEFT_STUDIO_OFFLINE_API_PORT": "eighty", "MLFLOW_TRACKING_URI": "http://127.0.0.1:5"}
    settings = Settings.load(paths, environ=env)
    assert settings.api.port == 8000
    assert settings.sync.mlflow_tracking_uri == "http://127.0.0.1:5"
    assert settings.problems == (
        "Environment variable PEFT_STUDIO_OFFLINE_API_PORT='eighty' was ignored: "
        "it must be an integer.",
    )


def test_environment_still_applies_over_an_invalid_file(paths: AppPaths) -> None:
    write(paths, "[sync]\nbatch_size = 0\n")
    settings = Settings.load(paths, environ={"PEFT_STUDIO_OFFLINE_API_BASE_URL": "http://h:1"})
    assert len(settings.problems) == 1
    assert settings.sync.api_base_url == "http://h:1"


def test_load_reads_os_environ_when_not_given(
    paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_API_PORT", "4321")
    assert Settings.load(paths).api.port == 4321


def test_home_variable_places_every_file(tmp_path: Path) -> None:
    settings = Settings.load(environ={"PEFT_STUDIO_OFFLINE_HOME": str(tmp_path / "h")})
    assert settings.paths.settings_file == tmp_path / "h" / "config" / "settings.toml"
    assert settings.paths.database == tmp_path / "h" / "data" / "queue.db"
    assert settings.paths.token_file == tmp_path / "h" / "data" / "api-token"
    assert settings.paths.log_dir == tmp_path / "h" / "logs"


def test_default_locations_follow_the_platform() -> None:
    paths = AppPaths.from_environment({})
    assert "peft-studio-offline" in str(paths.data_dir)
    assert paths.data_dir != paths.config_dir


# ------------------------------------------------------------------------ endpoints


def test_check_urls_variable_even_empty_decides(paths: AppPaths) -> None:
    write(paths, "[network]\nendpoints = ['http://127.0.0.1:9/']\n")
    env = {"PEFT_STUDIO_OFFLINE_CHECK_URLS": ""}
    settings = Settings.load(paths, environ=env)
    assert endpoints_from_settings(settings, environ={}) == []
    env = {"PEFT_STUDIO_OFFLINE_CHECK_URLS": "http://a:1/, http://b:2/"}
    settings = Settings.load(paths, environ=env)
    assert endpoints_from_settings(settings, environ={}) == ["http://a:1/", "http://b:2/"]


def test_without_endpoints_only_the_sync_targets_are_probed(paths: AppPaths) -> None:
    assert endpoints_from_settings(Settings(paths), environ={}) == []
    write(paths, "[sync]\nmlflow_tracking_uri = 'http://127.0.0.1:5000/'\n")
    settings = Settings.load(paths, environ={})
    assert endpoints_from_settings(settings, environ={}) == [
        {"url": "http://127.0.0.1:5000/health", "expected_body": "OK"}
    ]


# --------------------------------------------------------------------------- writer


@posix_only
def test_save_writes_a_private_file_that_loads_back(paths: AppPaths) -> None:
    settings = Settings.load(paths, environ={})
    changed = dataclasses.replace(
        settings,
        sync=dataclasses.replace(settings.sync, batch_size=25, conflict_strategy="merge"),  # type: ignore[arg-type]
        network=dataclasses.replace(
            settings.network, endpoints=({"url": "http://127.0.0.1:7/", "expected_status": 204},)
        ),
    )
    path = save_settings(changed)
    assert path == paths.settings_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.config_dir.stat().st_mode) == 0o700
    again = Settings.load(paths, environ={})
    assert again.problems == ()
    assert again.sync.batch_size == 25
    assert again.sync.conflict_strategy is ConflictResolution.MERGE
    assert again.network.endpoints == ({"url": "http://127.0.0.1:7/", "expected_status": 204},)
    # Only what differs from the defaults is written: new defaults reach the user later.
    assert tomllib.loads(path.read_text()) == {
        "sync": {"batch_size": 25, "conflict_strategy": "merge"},
        "network": {"endpoints": [{"url": "http://127.0.0.1:7/", "expected_status": 204}]},
    }
    assert [p.name for p in paths.config_dir.iterdir()] == ["settings.toml"]  # no temp left


def test_save_never_bakes_in_an_environment_override(paths: AppPaths) -> None:
    write(paths, "[sync]\napi_base_url = 'http://127.0.0.1:1/file'\n")
    env = {"PEFT_STUDIO_OFFLINE_API_BASE_URL": "http://127.0.0.1:2/env"}
    settings = Settings.load(paths, environ=env)
    settings = dataclasses.replace(settings, api=dataclasses.replace(settings.api, port=9100))
    settings.save()
    assert Settings.load(paths, environ={}).sync.api_base_url == "http://127.0.0.1:1/file"
    assert Settings.load(paths, environ={}).api.port == 9100
    # ...but a value the user changed after the override is theirs to keep.
    edited = dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, api_base_url="http://127.0.0.1:3/")
    )
    assert file_mapping(edited)["sync"]["api_base_url"] == "http://127.0.0.1:3/"


def test_save_refuses_invalid_values_and_keeps_the_file(paths: AppPaths) -> None:
    path = write(paths, "[sync]\nbatch_size = 5\n")
    settings = Settings.load(paths, environ={})
    bad = dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, batch_size=-4))
    with pytest.raises(SettingsError, match=r"'sync\.batch_size'"):
        save_settings(bad)
    assert path.read_text() == "[sync]\nbatch_size = 5\n"


def test_saving_over_an_invalid_file_keeps_a_copy(paths: AppPaths) -> None:
    path = write(paths, "[sync]\nbatch_size = 'lots'\n")
    settings = Settings.load(paths, environ={})
    assert settings.problems
    settings.save()
    assert Settings.load(paths, environ={}).problems == ()
    backup = path.with_name("settings.toml.invalid")
    assert backup.read_text() == "[sync]\nbatch_size = 'lots'\n"


def test_atomic_write_leaves_the_old_file_when_the_folder_is_read_only(paths: AppPaths) -> None:
    if sys.platform == "win32" or os.geteuid() == 0:
        pytest.skip("needs POSIX permissions that apply to the current user (not root)")
    path = write(paths, "[sync]\nbatch_size = 5\n")
    settings = Settings.load(paths, environ={})
    changed = dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, batch_size=6))
    paths.config_dir.chmod(0o500)
    try:
        with pytest.raises(SettingsError, match="cannot be written"):
            changed.save()
    finally:
        paths.config_dir.chmod(0o700)
    assert path.read_text() == "[sync]\nbatch_size = 5\n"


def test_a_failed_write_is_a_known_error_and_leaves_no_temporary_file(paths: AppPaths) -> None:
    paths.settings_file.mkdir(parents=True)  # something that cannot be replaced by a file
    settings = Settings(paths)
    changed = dataclasses.replace(settings, api=dataclasses.replace(settings.api, port=9))
    with pytest.raises(SettingsError, match="nothing was written"):
        changed.save()
    assert [p.name for p in paths.config_dir.iterdir()] == ["settings.toml"]
    assert paths.settings_file.is_dir()
