"""Small real servers on 127.0.0.1 for tests: nothing here ever listens beyond loopback.

- ``HttpServer``: a threaded HTTP server whose answer the test chooses, and which can be
  stopped (connections refused) and restarted on the same port.
- ``SilentServer``: accepts TCP connections and never answers (a probe times out).
- ``refused_url()``: a loopback URL where nothing listens (connection refused).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"


class StartStop:
    """``with server:`` starts it and stops it, for every test server here."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request."""

    status: int = 200
    body: bytes | str = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


Responder = Callable[[str], Reply]  # request path -> reply; runs on a server thread


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._record(self.path)
        reply = self.server.owner.responder(self.path)
        data = reply.data
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the client may have given up already
            self.wfile.write(data)

    def do_POST(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: HttpServer

    def server_bind(self) -> None:
        # Skip HTTPServer's reverse DNS lookup of the address: loopback needs no name.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class HttpServer(StartStop):
    """An HTTP server on 127.0.0.1 in a thread; ``responder`` decides every answer.

    ``stop()`` closes the listening socket (new connections are refused); ``start()`` again
    listens on the same port, so a client configured with ``url()`` sees the server return.
    """

    def __init__(self, responder: Responder | Reply | None = None) -> None:
        self.responder: Responder = _as_responder(responder or Reply())
        self.port = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        if not self.port:
            raise RuntimeError("The server has no port until it is first started.")
        return f"http://{LOOPBACK}:{self.port}{path}"

    def reply_with(self, responder: Responder | Reply) -> None:
        """Change the answer from now on."""
        self.responder = _as_responder(responder)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server((LOOPBACK, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)


def _as_responder(value: Responder | Reply) -> Responder:
    if isinstance(value, Reply):
        return lambda _path: value
    return value


class SilentServer(StartStop):
    """Accepts TCP connections on 127.0.0.1 and never sends a byte (until stopped)."""

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def connection_count(self) -> int:
        return len(self._held)

    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)  # held open, never read or written

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self._held:
            conn.close()


def free_port() -> int:
    """A loopback port that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def refused_url(path: str = "/") -> str:
    """A loopback URL where a connection is refused."""
    return f"http://{LOOPBACK}:{free_port()}{path}"
