"""A small Hugging Face Hub for tests: the routes ``huggingface_hub`` uses to push files.

Run it with ``AsgiServer(HubApp(token="hf_test"))`` and point the library (or the handler,
through ``sync.huggingface_endpoint``) at ``server.url("")``. It implements, for model
repositories only, what the library's ``create_repo``, ``repo_info``, ``list_repo_commits``,
``get_paths_info`` and ``create_commit`` send (huggingface_hub's ``hf_api.py``,
``_commit_api.py`` and ``lfs.py``):

- ``POST /api/repos/create`` (409 with the repository's URL when it exists);
- ``POST /api/validate-yaml`` (a ``README.md`` is checked before it is committed);
- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}``;
- ``GET /api/models/{repo}/commits/{rev}``;
- ``POST /api/models/{repo}/paths-info/{rev}`` (a form of ``paths``);
- ``POST /api/models/{repo}/preupload/{rev}``: LFS for ``*.safetensors``/``*.bin`` and files
  of 10 MB or more, as the Hub's default ``.gitattributes`` says;
- ``POST /{repo}.git/info/lfs/objects/batch`` (the ``basic`` transfer), ``PUT`` of the
  object to the ``href`` it gives, ``POST`` to its ``verify`` ``href``;
- ``POST /api/models/{repo}/commit/{rev}`` (NDJSON: header, ``file``, ``lfsFile``), with
  the ``parentCommit`` precondition (412 when the branch moved).

``GET /`` answers 200, as the Hub's home page does, for the app's connectivity check.
Any other request is refused with 501 and listed in ``refused``, so that a client that
starts using another route fails its test instead of passing by luck. Every request but
the object upload (a presigned URL on the real Hub) needs ``Authorization: Bearer
<token>``; a wrong one gets the Hub's 401. Knobs: ``lose_next_commit_answer`` (the commit is
applied, then the connection drops before the answer), ``throttle_commits`` (the next
commits get 429 with ``Retry-After``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.support.sync_apps import DroppedConnectionError, Receive, Scope, Send

LFS_THRESHOLD = 10 * 1024 * 1024
_LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
_REPO = r"(?P<repo>[^/]+/[^/]+)"
_REV = r"(?P<rev>[^/]+)"


@dataclass
class Entry:
    size: int
    git_sha1: str
    lfs_sha256: str | None  # stored with LFS when set

    def info(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "file", "path": path, "size": self.size}
        data["oid"] = self.git_sha1
        if self.lfs_sha256 is not None:
            data["lfs"] = {"oid": self.lfs_sha256, "size": self.size, "pointerSize": 134}
        return data


@dataclass
class Commit:
    oid: str
    title: str
    message: str
    date: datetime
    tree: dict[str, Entry]
    changed: list[str]  # the paths this commit wrote


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, list[Commit]] = field(default_factory=dict)  # newest first


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class HubApp:
    def __init__(self, token: str = "hf_test_token", user: str = "tester") -> None:
        self.token = token
        self.user = user
        self.lock = threading.Lock()
        self.repos: dict[str, Repo] = {}
        self.objects: dict[str, bytes] = {}  # LFS objects by SHA-256
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.refused: list[tuple[str, str]] = []
        self.uploaded: list[str] = []  # SHA-256 of every LFS object PUT
        self.lose_next_commit_answer = False
        self.throttle_commits: list[int] = []  # Retry-After of the next commits refused
        self._routes = [
            ("GET", re.compile(r"^/$"), self._home),
            ("POST", re.compile(r"^/api/repos/create$"), self._create_repo),
            ("POST", re.compile(r"^/api/validate-yaml$"), self._validate_yaml),
            ("GET", re.compile(rf"^/api/models/{_REPO}$"), self._repo_info),
            ("GET", re.compile(rf"^/api/models/{_REPO}/revision/{_REV}$"), self._repo_info),
            ("GET", re.compile(rf"^/api/models/{_REPO}/commits/{_REV}$"), self._commits),
            ("POST", re.compile(rf"^/api/models/{_REPO}/paths-info/{_REV}$"), self._paths_info),
            ("POST", re.compile(rf"^/api/models/{_REPO}/preupload/{_REV}$"), self._preupload),
            ("POST", re.compile(rf"^/{_REPO}\.git/info/lfs/objects/batch$"), self._lfs_batch),
            ("POST", re.compile(rf"^/{_REPO}\.git/info/lfs/objects/verify$"), self._lfs_verify),
            ("PUT", re.compile(r"^/lfs-upload/(?P<oid>[0-9a-f]{64})$"), self._lfs_upload),
            ("POST", re.compile(rf"^/api/models/{_REPO}/commit/{_REV}$"), self._commit),
        ]

    # -- what tests read -----------------------------------------------------------------

    def commits(self, repo_id: str, branch: str = "main") -> list[Commit]:
        with self.lock:
            return list(self.repos[repo_id].branches.get(branch, []))

    def file(self, repo_id: str, path: str, branch: str = "main") -> Entry | None:
        return self.commits(repo_id, branch)[0].tree.get(path)

    def add_repo(self, repo_id: str, *, private: bool = False) -> Repo:
        with self.lock:
            return self._new_repo(repo_id, private)

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Request(
            scope["method"], unquote(scope["path"]), scope["query_string"].decode(), headers, body
        )
        with self.lock:
            self.requests.append((request.method, request.path))
        found = self._route(request)
        if found is None:
            with self.lock:
                self.refused.append((request.method, request.path))
            await _reply(send, 501, {"error": f"Not implemented: {request.method} {request.path}"})
            return
        route, match = found
        if route not in (self._lfs_upload, self._home) and not self._authorized(request):
            await _reply(
                send,
                401,
                {"error": "Invalid credentials in Authorization header"},
                {"X-Error-Message": "Invalid credentials in Authorization header"},
            )
            return
        with self.lock:
            status, answer, extra = route(request, **match.groupdict())
        if answer is _DROP:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise DroppedConnectionError("the commit's answer is lost on purpose")
        await _reply(send, status, answer, extra)

    def _route(self, request: Request) -> tuple[Route, re.Match[str]] | None:
        for method, pattern, route in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                return route, match
        return None

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _base(self, request: Request) -> str:
        return f"http://{request.headers.get('host', '127.0.0.1')}"

    # -- routes (called with the lock held) ---------------------------------------------

    def _new_repo(self, repo_id: str, private: bool) -> Repo:
        repo = Repo(repo_id, private)
        attributes = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
        tree = {".gitattributes": Entry(len(attributes), git_sha1(attributes), None)}
        first = _make_commit("initial commit", "", tree, [".gitattributes"], None)
        repo.branches["main"] = [first]
        self.repos[repo_id] = repo
        return repo

    def _create_repo(self, request: Request) -> Reply:
        data = json.loads(request.body)
        if data.get("type") not in (None, "model"):
            return 400, {"error": "Only model repositories exist here."}, {}
        owner = data.get("organization") or self.user
        repo_id = f"{owner}/{data['name']}"
        url = f"{self._base(request)}/{repo_id}"
        if repo_id in self.repos:
            return 409, {"error": "You already created this model repo", "url": url}, {}
        self._new_repo(repo_id, data.get("visibility") == "private")
        return 200, {"url": url, "name": repo_id, "id": repo_id}, {}

    def _home(self, request: Request) -> Reply:
        return 200, {"hub": "test"}, {}

    def _validate_yaml(self, request: Request) -> Reply:
        content = json.loads(request.body)["content"]
        if content.startswith("---") and content.count("---") < 2:
            return 400, {"errors": [{"message": "The metadata block is not closed."}]}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _find(self, repo_id: str, rev: str) -> tuple[Repo | None, list[Commit] | None, Reply]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return None, None, _not_found("Repository not found", "RepoNotFound")
        rev = unquote(rev)
        if rev in repo.branches:
            return repo, repo.branches[rev], (200, None, {})
        for commits in repo.branches.values():  # a commit id
            for index, commit in enumerate(commits):
                if commit.oid == rev:
                    return repo, commits[index:], (200, None, {})
        return repo, None, _not_found(f"Invalid rev id: {rev}", "RevisionNotFound")

    def _repo_info(self, request: Request, repo: str, rev: str = "main") -> Reply:
        found, commits, failure = self._find(repo, rev)
        if found is None or commits is None:
            return failure
        head = commits[0]
        siblings = [{"rfilename": path} for path in sorted(head.tree)]
        return (
            200,
            {"id": repo, "sha": head.oid, "private": found.private, "siblings": siblings},
            {},
        )

    def _commits(self, request: Request, repo: str, rev: str) -> Reply:
        _, commits, failure = self._find(repo, rev)
        if commits is None:
            return failure
        listed = [
            {
                "id": c.oid,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": self.user}],
                "date": c.date.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            for c in commits
        ]
        return 200, listed, {}

    def _paths_info(self, request: Request, repo: str, rev: str) -> Reply:
        _, commits, failure = self._find(repo, rev)
        if commits is None:
            return failure
        form = parse_qs(request.body.decode())
        tree = commits[0].tree
        return 200, [tree[p].info(p) for p in form.get("paths", []) if p in tree], {}

    def _preupload(self, request: Request, repo: str, rev: str) -> Reply:
        _, commits, failure = self._find(repo, rev)
        if commits is None:
            return failure
        files = json.loads(request.body)["files"]
        tree = commits[0].tree
        answer = []
        for item in files:
            lfs = item["size"] >= LFS_THRESHOLD or item["path"].endswith(_LFS_SUFFIXES)
            entry = tree.get(item["path"])
            oid = None if entry is None else (entry.lfs_sha256 or entry.git_sha1)
            answer.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return 200, {"files": answer, "commitOid": commits[0].oid}, {}

    def _lfs_batch(self, request: Request, repo: str) -> Reply:
        if repo not in self.repos:
            return _not_found("Repository not found", "RepoNotFound")
        data = json.loads(request.body)
        if data.get("operation") != "upload" or "basic" not in data.get("transfers", []):
            return 422, {"message": "Only basic uploads are served here."}, {}
        base = self._base(request)
        objects = []
        for item in data["objects"]:
            answer: dict[str, Any] = {"oid": item["oid"], "size": item["size"]}
            if item["oid"] not in self.objects:
                answer["actions"] = {
                    "upload": {"href": f"{base}/lfs-upload/{item['oid']}"},
                    "verify": {
                        "href": f"{base}/{repo}.git/info/lfs/objects/verify",
                        "header": {"Authorization": f"Bearer {self.token}"},
                    },
                }
            objects.append(answer)
        return 200, {"transfer": "basic", "objects": objects}, {}

    def _lfs_upload(self, request: Request, oid: str) -> Reply:
        if hashlib.sha256(request.body).hexdigest() != oid:
            return 400, {"error": "The object does not match its oid."}, {}
        self.objects[oid] = request.body
        self.uploaded.append(oid)
        return 200, {}, {}

    def _lfs_verify(self, request: Request, repo: str) -> Reply:
        data = json.loads(request.body)
        stored = self.objects.get(data["oid"])
        if stored is None or len(stored) != data["size"]:
            return 404, {"error": "Object not found"}, {}
        return 200, {}, {}

    def _commit(self, request: Request, repo: str, rev: str) -> Reply:
        found, commits, failure = self._find(repo, rev)
        if found is None or commits is None or rev not in found.branches:
            return failure if commits is None else (400, {"error": "Commit to a branch."}, {})
        if self.throttle_commits:
            wait = self.throttle_commits.pop(0)
            message = "You have exceeded the rate limit for repository commits (128 per hour)."
            return 429, {"error": message}, {"Retry-After": str(wait)}
        lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent is not None and parent != commits[0].oid:
            return 412, {"error": "A commit has happened since. Please refresh and try again."}, {}
        tree = dict(commits[0].tree)
        changed = []
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                content = base64.b64decode(value["content"])
                tree[value["path"]] = Entry(len(content), git_sha1(content), None)
            elif line["key"] == "lfsFile":
                data = self.objects.get(value["oid"])
                if data is None:
                    return 422, {"error": f"LFS object {value['oid']} was not uploaded."}, {}
                tree[value["path"]] = Entry(len(data), git_sha1(_pointer(value["oid"], data)),
                                            value["oid"])  # fmt: skip
            else:
                return 422, {"error": f"Unsupported commit line {line['key']!r}."}, {}
            changed.append(value["path"])
        message = header["summary"] + (
            "\n\n" + header["description"] if header.get("description") else ""
        )
        commit = _make_commit(header["summary"], message, tree, changed, commits[0].oid)
        found.branches[rev].insert(0, commit)
        if self.lose_next_commit_answer:
            self.lose_next_commit_answer = False
            return 200, _DROP, {}
        url = f"{self._base(request)}/{repo}/commit/{commit.oid}"
        return 200, {"success": True, "commitOid": commit.oid, "commitUrl": url}, {}


Reply = tuple[int, Any, dict[str, str]]
Route = Callable[..., Reply]
_DROP = object()


def _make_commit(
    title: str, message: str, tree: dict[str, Entry], changed: list[str], parent: str | None
) -> Commit:
    seed = json.dumps([parent, title, message, sorted((p, e.git_sha1) for p, e in tree.items())])
    oid = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
    return Commit(oid, title, message or title, datetime.now(UTC), tree, changed)


def _pointer(oid: str, data: bytes) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
    )


def _not_found(message: str, code: str) -> Reply:
    return 404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}


async def _reply(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
