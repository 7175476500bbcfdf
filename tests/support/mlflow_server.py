"""A real MLflow tracking server on 127.0.0.1 for tests and benchmarks.

MLflow lives in a virtual environment of its own (``.venv-mlflow``, made by
``packaging/mlflow-server.sh install`` when missing: it pins its own web stack). The
``mlflow_server`` fixture starts one server per test session, with a SQLite backend store and
the artifact proxy, and stops it at the end; ``stop()`` and ``start()`` take it down and bring
it back on the same port with the same data, for tests of a server that goes away.

``DroppingProxy`` sits between a client and the server and can swallow responses: the server
has done the work, the client only sees the connection close (a lost response).

Use it from a test module with ``from tests.support.mlflow_server import mlflow_server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from tests.support.servers import LOOPBACK, StartStop, free_port

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "packaging" / "mlflow-server.sh"
VENV_VARIABLE = "PEFT_STUDIO_OFFLINE_MLFLOW_VENV"
START_TIMEOUT = 90.0


def mlflow_venv() -> Path:
    return Path(os.environ.get(VENV_VARIABLE) or REPO / ".venv-mlflow")


def ensure_mlflow_installed() -> Path:
    """The ``mlflow`` executable, installing MLflow into its own environment when missing."""
    executable = mlflow_venv() / "bin" / "mlflow"
    stamp = mlflow_venv() / ".mlflow-installed"
    if executable.exists() and stamp.exists():
        return executable
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(INSTALLER), "install"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not executable.exists():
        raise RuntimeError(
            "Installing the MLflow server for the tests failed:\n" + result.stderr[-4000:]
        )
    print(
        f"MLflow server installed in {time.monotonic() - started:.0f} s", file=sys.stderr
    )  # shown with -s; the installer's own log is in the environment folder
    return executable


class MlflowServer(StartStop):
    """``mlflow server`` in a subprocess: one worker, SQLite store, artifact proxy."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.backend_uri = f"sqlite:///{root / 'mlflow.db'}"
        self.artifacts = root / "artifacts"
        self.log_file = root / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> Self:
        if self.running:
            return self
        executable = ensure_mlflow_installed()
        self.root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON"))}
        env.pop("VIRTUAL_ENV", None)
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        command = [
            str(executable),
            "server",
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--workers", "1",
            "--backend-store-uri", self.backend_uri,
            "--artifacts-destination", str(self.artifacts),
            "--serve-artifacts",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            # A session of its own: stop() ends the server and the worker it starts, by id.
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
                start_new_session=True,
            )
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/health").status_code == 200:
                        return
                time.sleep(0.1)
        tail = self.log_file.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"The MLflow server did not become healthy:\n{tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # The worker may outlive the parent by a moment: the port must be free for start().
        _wait_port_free(self.port)


def _wait_port_free(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with httpx.Client(timeout=0.5) as client:
                client.get(f"http://{LOOPBACK}:{port}/health")
        except httpx.HTTPError:
            return
        time.sleep(0.1)


_shared: MlflowServer | None = None
_users = 0


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One MLflow tracking server for the whole session (about 6 s to start).

    Each test module that imports this fixture gets its own session-scoped copy of it from
    pytest; they all share one server, stopped when the last of them is torn down.
    """
    global _shared, _users
    if _shared is None:
        _shared = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    _users += 1
    server = _shared
    try:
        yield server
    finally:
        _users -= 1
        if _users == 0:
            _shared = None
            server.stop()


class DroppingProxy(StartStop):
    """An HTTP/1.1 relay to ``upstream_port`` that loses chosen responses on purpose.

    ``drop(pattern, times, after=n)``: of the requests whose request line contains
    ``pattern``, the first ``n`` pass; the next ``times`` reach the server and are carried
    out, but the client's connection is cut before a byte of the answer comes back (a lost
    response). Runs its own event loop in a
    thread, so it serves sync and async clients alike.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.requests: list[str] = []  # request lines seen, in order
        self.dropped: list[str] = []
        self._rules: list[list[Any]] = []  # [pattern, times left]
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def drop(self, pattern: str = "", times: int = 1, *, after: int = 0) -> None:
        """Lose the answers to ``times`` matching requests, once ``after`` went through."""
        with self._lock:
            self._rules.append([pattern, times, after])

    def _should_drop(self, request_line: str) -> bool:
        with self._lock:
            self.requests.append(request_line)
            for rule in self._rules:
                if rule[1] > 0 and rule[0] in request_line:
                    if rule[2] > 0:
                        rule[2] -= 1
                        continue
                    rule[1] -= 1
                    self.dropped.append(request_line)
                    return True
        return False

    def start(self) -> Self:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, LOOPBACK, 0), self._loop
        )
        self._server = future.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _read_message(reader, is_request=True)
                if request is None:
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection(LOOPBACK, self.upstream_port)
                upstream[1].write(request)
                await upstream[1].drain()
                response = await _read_message(upstream[0], is_request=False)
                if response is None:
                    return
                if self._should_drop(request.split(b"\r\n", 1)[0].decode("latin-1")):
                    writer.transport.abort()
                    return
                writer.write(response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            for side in (writer, upstream[1] if upstream else None):
                if side is not None:
                    with contextlib.suppress(Exception):
                        side.close()


async def _read_message(reader: asyncio.StreamReader, *, is_request: bool) -> bytes | None:
    """One whole HTTP/1.1 message (head and body) as bytes; None at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    if b"content-length" in fields:
        return head + await reader.readexactly(int(fields[b"content-length"]))
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body += size_line + await reader.readexactly(size + 2)
            if size == 0:
                return head + body
    if is_request or head.split(b" ", 2)[1:2] in ([b"204"], [b"304"]):
        return head
    return head + await reader.read()  # no length: the body ends with the connection


async def new_run(client: Any, prefix: str = "test") -> tuple[str, str]:
    """A fresh experiment and run on the server: (experiment_id, run_id)."""
    import uuid

    experiment_id = await client.create_experiment(f"{prefix}-{uuid.uuid4().hex}")
    run = await client.create_run(experiment_id)
    return experiment_id, str(run["info"]["run_id"])
