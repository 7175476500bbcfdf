"""Run an ASGI app (Starlette, FastAPI) under uvicorn on 127.0.0.1 in a background thread.

    with AsgiServer(app) as server:
        httpx.get(server.url("/items"))
        server.stop()      # connections refused from now on
        server.start()     # back on the same port
        server.kill()      # abrupt: open connections are dropped, nothing drains

The port is picked free on first start and kept across restarts, so clients configured
with ``url()`` see the same server come back. The app's state lives in the app object,
so it survives restarts too (a "database" that outlives the process, for tests).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Self

import uvicorn

from tests.support.servers import StartStop

LOOPBACK = "127.0.0.1"


class AsgiServer(StartStop):
    """One uvicorn server for one ASGI app; start/stop/kill/restart from the test thread."""

    def __init__(self, app: Any, *, port: int = 0, graceful_timeout: float = 2.0) -> None:
        self.app = app
        self.port = port
        self.graceful_timeout = graceful_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        if not self.port:
            raise RuntimeError("The server has no port until it is first started.")
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, timeout: float = 10.0) -> Self:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            ws="none",  # no websockets import: keeps warnings (errors in tests) away
            http="h11",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=self.graceful_timeout,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"uvicorn-{self.port}",
            daemon=True,
        )
        thread.start()
        waited = 0.0
        while not server.started:
            if not thread.is_alive():
                sock.close()
                raise RuntimeError(f"The test server on port {self.port} did not start.")
            if waited > timeout:
                raise RuntimeError(f"The test server on port {self.port} took too long to start.")
            thread.join(0.01)
            waited += 0.01
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening; requests in progress may finish (up to ``graceful_timeout``)."""
        self._shutdown(force=False)

    def kill(self) -> None:
        """Stop at once: open connections are closed, responses in progress are lost."""
        self._shutdown(force=True)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def _shutdown(self, *, force: bool) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.force_exit = force
        server.should_exit = True
        thread.join(10)
