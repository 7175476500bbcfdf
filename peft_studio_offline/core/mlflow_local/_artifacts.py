"""Artifacts a script logs through the local endpoint: staged on disk, then uploaded once.

MLflow's client sends ``log_artifact(s)`` to the artifact proxy under the run's artifact
URI (``mlflow-artifacts:/<experiment>/<run>/artifacts``, local ids). Each file is staged in
a tree beside the queue (``queue.mlflow-artifacts/`` next to ``queue.db``) at the same
relative path, and a ``model_push`` of that one file is queued for the run; the MLflow
handler uploads it through the server's proxy to the run's artifacts once the run is there.
Reads (``download_artifacts``, ``list_artifacts``) are answered from the staged tree.

All file access of the staged tree is here, so that the way files are opened can change in
one place.
"""

from __future__ import annotations

import os
import posixpath
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError

ARTIFACTS_FOLDER_SUFFIX = ".mlflow-artifacts"


def staging_root_for(queue_path: Path) -> Path:
    return queue_path.with_name(f"{queue_path.stem}{ARTIFACTS_FOLDER_SUFFIX}")


@dataclass(frozen=True, slots=True)
class ArtifactPath:
    """``<experiment>/<run>/artifacts/<inside>`` split and checked."""

    experiment_id: str
    run_id: str
    inside: str  # relative POSIX path under the run's artifacts ('' for the root)

    @property
    def relative(self) -> str:
        return posixpath.join(self.experiment_id, self.run_id, "artifacts", self.inside).rstrip("/")


def parse_artifact_path(raw: str) -> ArtifactPath:
    """The path a request names, or ``InvalidOperationError`` (no '..', a run's artifacts)."""
    parts = [p for p in raw.strip().strip("/").split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise InvalidOperationError(f"The artifact path {raw!r} is not allowed.")
    if len(parts) < 3 or parts[2] != "artifacts":
        raise InvalidOperationError(
            f"The artifact path {raw!r} is not under a run's artifacts"
            " (<experiment>/<run>/artifacts/...)."
        )
    return ArtifactPath(parts[0], parts[1], "/".join(parts[3:]))


class ArtifactStaging:
    """The staged tree of one queue."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, path: ArtifactPath) -> Path:
        return self.root.joinpath(*path.relative.split("/"))

    async def write(self, path: ArtifactPath, chunks: AsyncIterator[bytes]) -> Path:
        """Store a file whole (a temporary name, then renamed); returns where it is."""
        import asyncio

        if not path.inside:
            raise InvalidOperationError("An artifact needs a file name.")
        target = self.file(path)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        handle = await asyncio.to_thread(temporary.open, "wb")
        try:
            async for chunk in chunks:
                if chunk:
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        except BaseException:
            handle.close()
            temporary.unlink(missing_ok=True)
            raise
        handle.close()
        await asyncio.to_thread(temporary.replace, target)
        return target

    def read_path(self, path: ArtifactPath) -> Path | None:
        """The staged file to send back, or None when there is none."""
        target = self.file(path)
        return target if target.is_file() else None

    def listing(self, path: ArtifactPath) -> list[dict[str, Any]]:
        """The entries directly under a folder, as MLflow's proxy lists them."""
        folder = self.file(path)
        if not folder.is_dir():
            return []
        entries: list[dict[str, Any]] = []
        for child in sorted(folder.iterdir()):
            if child.name.startswith(".") and child.name.endswith(".part"):
                continue
            if child.is_dir():
                entries.append({"path": child.name, "is_dir": True})
            else:
                entries.append(
                    {"path": child.name, "is_dir": False, "file_size": child.stat().st_size}
                )
        return entries
