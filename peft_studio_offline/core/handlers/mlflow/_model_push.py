"""The built-in ``MODEL_PUSH`` handler: an adapter folder to a run's artifacts, then a version.

Every file of the folder is streamed through MLflow's artifact proxy to
``<run artifacts>/<artifact_path>/<relative path>``; a PUT replaces what an interrupted
attempt left, and the sizes the server lists afterwards must match. With
``registered_model_name``, a model version is registered from ``runs:/<run>/<artifact_path>``,
tagged with the operation's idempotency key: a retry finds that version instead of creating
a second one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import HandlerContext, Outcome
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._creation import waiting
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError, MlflowServerError
from peft_studio_offline.core.handlers.mlflow._outcomes import check_run_active, outcome_for
from peft_studio_offline.core.handlers.mlflow._payloads import (
    ModelPush,
    check_artifact_path,
    parse_model_push,
)
from peft_studio_offline.core.handlers.mlflow._target import TrackingHandler
from peft_studio_offline.core.mlflow_local import NotDeliveredError
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.outgoing_files import (
    MissingFileError,
    NotAFolderError,
    OutgoingFile,
    OutgoingFolder,
    open_outgoing_file,
)

IDEMPOTENCY_TAG = "peft_studio_offline.idempotency_key"
PROXY_SCHEME = "mlflow-artifacts:"
PROXY_HTTP_PATH = "/api/2.0/mlflow-artifacts/artifacts/"


class ModelPushHandler(TrackingHandler):
    """Uploads adapter folders and registers them, once."""

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        """Two pushes to the same run and folder name go in queue order (the later wins)."""
        run_id = payload.get("run_id")
        if not isinstance(run_id, str):
            return None
        return f"mlflow-artifacts:{run_id}/{payload.get('artifact_path') or 'adapter'}"

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        try:
            push = parse_model_push(operation.payload)
            source = await asyncio.to_thread(
                _AdapterSource.open, push.path, self.upload_roots(context)
            )
        except InvalidOperationError as exc:
            return Outcome.failed(str(exc))
        try:
            if self.ids is not None:  # a run made through the local endpoint: the server's id
                push = dataclasses.replace(push, run_id=await self.ids.run(push.run_id))
        except NotDeliveredError as exc:
            source.close()
            return waiting(str(exc))
        try:
            return await self._push(push, source, context)
        finally:
            source.close()

    async def _push(
        self, push: ModelPush, source: _AdapterSource, context: HandlerContext
    ) -> Outcome:
        files = source.files
        try:
            client = self.tracking.client(context, context.idempotency_key)
            run = await check_run_active(client, push.run_id)
            root = _proxy_root(str(run.get("info", {}).get("artifact_uri", "")), push.run_id)
            destination = posixpath.join(root, push.artifact_path)
            sent = await _upload(client, source, destination)
            details: dict[str, Any] = {
                "run_id": push.run_id,
                "artifact_path": push.artifact_path,
                "files": len(files),
                "bytes": sent,
            }
            if push.registered_model_name:
                version = await _register_once(client, push, context.idempotency_key)
                details["registered_model"] = push.registered_model_name
                details["version"] = version
        except InvalidOperationError as exc:  # a file swapped or removed since the listing
            return Outcome.failed(str(exc))
        except MlflowError as exc:
            return outcome_for(exc)
        return Outcome.done(details)


class _AdapterSource:
    """The adapter folder (or single file) being pushed, opened once for the whole push.

    Files are listed and opened through the folder's descriptor, never through a symbolic
    link (see ``core/outgoing_files.py``); a link inside the folder is refused by name.
    """

    def __init__(
        self,
        folder: OutgoingFolder | None,
        single: Path | None,
        files: list[tuple[str, int]],
        roots: tuple[str, ...],
    ) -> None:
        self.folder = folder
        self.single = single
        self.files = files
        self.roots = roots

    @classmethod
    def open(cls, path: Path, roots: tuple[str, ...]) -> _AdapterSource:
        try:
            folder = OutgoingFolder.open(path, roots)
        except NotAFolderError:
            with open_outgoing_file(path, roots) as opened:  # a single file is pushed alone
                return cls(None, opened.path, [(opened.path.name, opened.size)], roots)
        except MissingFileError:
            raise InvalidOperationError(f"The adapter folder {path} does not exist.") from None
        try:
            files = folder.files()
            for relative, _ in files:
                try:
                    check_artifact_path(relative)
                except InvalidOperationError:
                    raise InvalidOperationError(
                        f"MLflow cannot store the file {relative!r} of {path}"
                        " (names with '#' or '%' are refused by its artifact proxy)."
                    ) from None
            if not files:
                raise InvalidOperationError(f"The adapter folder {path} has no files.")
        except BaseException:
            folder.close()
            raise
        return cls(folder, None, files, roots)

    def open_file(self, relative: str) -> OutgoingFile:
        """One file, opened now and checked again: it may have changed since the listing."""
        if self.folder is not None:
            return self.folder.open_file(relative)
        assert self.single is not None
        return open_outgoing_file(self.single, self.roots)

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()


def _proxy_root(artifact_uri: str, run_id: str) -> str:
    """The run's artifact folder as a path under the proxy (``<exp>/<run>/artifacts``)."""
    if artifact_uri.startswith(PROXY_SCHEME):
        rest = artifact_uri[len(PROXY_SCHEME) :]
        if rest.startswith("//"):  # mlflow-artifacts://host:port/path
            rest = rest[2:].partition("/")[2]
        return rest.strip("/")
    if PROXY_HTTP_PATH in artifact_uri:
        return artifact_uri.split(PROXY_HTTP_PATH, 1)[1].strip("/")
    raise MlflowArtifactsNotProxiedError(
        f"The artifacts of run {run_id} are stored at {artifact_uri or 'an unknown place'},"
        " not behind MLflow's artifact proxy (start the server with --serve-artifacts)."
    )


class MlflowArtifactsNotProxiedError(MlflowError):
    """The run's artifact store cannot be reached through the tracking server."""


async def _upload(client: MlflowRestClient, source: _AdapterSource, destination: str) -> int:
    """Stream every file, then check the sizes the server lists; returns the bytes sent."""
    sizes: dict[str, int] = {}
    for relative, _ in source.files:
        opened = await asyncio.to_thread(source.open_file, relative)
        try:
            sizes[relative] = await client.upload_artifact(
                posixpath.join(destination, relative), opened
            )
        finally:
            opened.close()
    folders = {posixpath.dirname(relative) for relative in sizes}
    listed = await _listed_sizes(client, destination, folders)
    wrong = [r for r, size in sizes.items() if listed.get(r) != size]
    if wrong:
        raise MlflowServerError(
            f"MLflow lists {len(wrong)} uploaded file(s) with the wrong size, e.g. {wrong[0]!r};"
            " they will be sent again."
        )
    return sum(sizes.values())


async def _listed_sizes(
    client: MlflowRestClient, destination: str, folders: set[str]
) -> dict[str, int | None]:
    sizes: dict[str, int | None] = {}
    for folder in sorted(folders):
        for entry in await client.list_artifacts(posixpath.join(destination, folder)):
            if not entry.get("is_dir"):
                name = posixpath.join(folder, str(entry.get("path", "")))
                # MLflow's JSON leaves out zero values: no file_size is an empty file.
                sizes[name] = int(entry.get("file_size", 0))
    return sizes


async def _register_once(client: MlflowRestClient, push: ModelPush, key: str) -> str:
    """The version registered for this operation: found by its tag, or created now."""
    name = push.registered_model_name
    assert name is not None
    await client.create_registered_model(name)
    existing = await _find_version(client, name, key)
    if existing is not None:
        return existing
    version = await client.create_model_version(
        name,
        f"runs:/{push.run_id}/{push.artifact_path}",
        run_id=push.run_id,
        tags={IDEMPOTENCY_TAG: key},
    )
    return str(version.get("version"))


async def _find_version(client: MlflowRestClient, name: str, key: str) -> str | None:
    if "'" in key or "\\" in key:  # not expressible in a filter: look through the model
        candidates = await client.search_model_versions(f"name = {_quoted(name)}")
    else:
        candidates = await client.search_model_versions(f"tags.`{IDEMPOTENCY_TAG}` = '{key}'")
    for version in candidates:
        tags = {t.get("key"): t.get("value") for t in version.get("tags", [])}
        if version.get("name") == name and tags.get(IDEMPOTENCY_TAG) == key:
            return str(version.get("version"))
    return None


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'
