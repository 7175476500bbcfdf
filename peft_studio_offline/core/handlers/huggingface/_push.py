"""One push of an adapter folder to a Hub repository, with the ``huggingface_hub`` library.

Blocking (the library is): the handler runs it on a worker thread. The steps, each a
request the library makes:

1. with ``create_repo``, the repository is created, or found to exist already;
2. the branch's commits are listed; one that carries this operation's key in its message
   is this push, applied by an attempt whose answer was lost: nothing more is done;
3. the Hub's hashes of the adapter's paths at the branch head are compared with the local
   files: files it already has are not sent, and with none left no commit is made;
4. the repository's commits of the last hour are counted against the commit budget;
5. one commit with every changed file (large ones through LFS, as the library sends them),
   on top of the head seen in step 2 (``parent_commit``): if someone else committed in
   between, the Hub refuses it and the next attempt starts again from step 2.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from peft_studio_offline.core.handlers.huggingface._files import (
    AdapterFile,
    AdapterSource,
    FileHashes,
    hash_file,
)
from peft_studio_offline.core.handlers.huggingface._payload import HubPush

KEY_TRAILER = "Peft-Studio-Offline-Key"
BUDGET_WINDOW = timedelta(hours=1)
_SESSION_LOCK = threading.Lock()


class CommitBudgetSpentError(Exception):
    """The repository had its commits for this hour; ``wait`` seconds until one is free."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True, slots=True)
class HubRequest:
    endpoint: str
    token: str
    key: str  # the operation's idempotency key
    commits_per_hour: int
    roots: tuple[str, ...]
    timeout: float  # sync.request_timeout: the longest wait for the server at any step


def _client_with_timeouts() -> Any:
    from huggingface_hub.utils import _http

    return _http.default_client_factory()


def _limit_waits(seconds: float) -> None:
    """The library's own client waits for a silent server forever; a push waits ``seconds``
    at most for each step (connect, each read and write), so that a hung Hub makes a retry
    rather than a sync that never ends. A process that set up the library's client itself
    (``set_client_factory``) keeps its own choice."""
    import httpx2
    from huggingface_hub import get_session, set_client_factory
    from huggingface_hub.utils import _http

    with _SESSION_LOCK:
        factory = getattr(_http, "_GLOBAL_CLIENT_FACTORY", None)
        if factory is getattr(_http, "default_client_factory", object()):
            set_client_factory(_client_with_timeouts)
        elif factory is not _client_with_timeouts:
            return
        get_session().timeout = httpx2.Timeout(seconds)


def push_adapter(push: HubPush, request: HubRequest) -> dict[str, Any]:
    """Push once; returns the details kept in the operation's history."""
    from huggingface_hub import CommitOperationAdd, HfApi

    from peft_studio_offline._version import __version__

    _limit_waits(request.timeout)
    api = HfApi(
        endpoint=request.endpoint,
        token=request.token,
        library_name="peft-studio-offline",
        library_version=__version__,
    )
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(AdapterSource.open(push.path, push, request.roots))
        files = source.files
        handles = [stack.enter_context(source.open_file(f)).handle for f in files]
        hashes = [hash_file(handle) for handle in handles]
        details: dict[str, Any] = {
            "repo_id": push.repo_id,
            "revision": push.revision,
            "files": len(files),
        }
        if push.create_repo:
            api.create_repo(push.repo_id, private=push.private, exist_ok=True)
        commits = api.list_repo_commits(push.repo_id, revision=push.revision)
        trailer = f"{KEY_TRAILER}: {request.key}"
        for commit in commits:
            if trailer in (commit.message or "").splitlines():
                return {**details, "commit": commit.commit_id, "files_sent": 0, "found": True}
        head = commits[0].commit_id if commits else None
        changed = _changed(api, push, files, hashes, head)
        if not changed:
            return {**details, "commit": head, "files_sent": 0, "unchanged": True}
        _check_budget(push.repo_id, commits, request.commits_per_hour)
        operations = [
            CommitOperationAdd(path_in_repo=files[i].path_in_repo, path_or_fileobj=handles[i])
            for i in changed
        ]
        info = api.create_commit(
            push.repo_id,
            operations,
            commit_message=push.commit_message,
            commit_description=trailer,
            revision=push.revision,
            parent_commit=head,
        )
    return {
        **details,
        "commit": info.oid,
        "commit_url": info.commit_url,
        "files_sent": len(changed),
        "bytes_sent": sum(hashes[i].size for i in changed),
    }


def _changed(
    api: Any,
    push: HubPush,
    files: Sequence[AdapterFile],
    hashes: Sequence[FileHashes],
    head: str | None,
) -> list[int]:
    """Indexes of the files whose content the branch head does not have."""
    if head is None:
        return list(range(len(files)))
    remote = {
        entry.path: entry
        for entry in api.get_paths_info(
            push.repo_id, [f.path_in_repo for f in files], revision=head
        )
    }
    changed = []
    for index, (local, facts) in enumerate(zip(files, hashes, strict=True)):
        entry = remote.get(local.path_in_repo)
        lfs = getattr(entry, "lfs", None)
        if entry is None or not hasattr(entry, "blob_id"):
            changed.append(index)
        elif lfs is not None:
            if (lfs.sha256, lfs.size) != (facts.sha256, facts.size):
                changed.append(index)
        elif entry.blob_id != facts.git_sha1:
            changed.append(index)
    return changed


def _check_budget(repo_id: str, commits: Sequence[Any], per_hour: int) -> None:
    now = datetime.now(UTC)
    recent = sorted(c.created_at for c in commits if now - c.created_at < BUDGET_WINDOW)
    if len(recent) < per_hour:
        return
    # The oldest commit that must leave the window before one more fits.
    frees_at = recent[len(recent) - per_hour] + BUDGET_WINDOW
    wait = max(1.0, (frees_at - now).total_seconds())
    raise CommitBudgetSpentError(
        f"{repo_id} has had {len(recent)} commits in the last hour, the budget"
        f" (sync.huggingface_commits_per_hour = {per_hour}); the push waits"
        f" {round(wait)} s for the next one.",
        wait,
    )
