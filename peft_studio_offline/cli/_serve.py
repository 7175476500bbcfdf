"""``serve``: the core and the HTTP API in the foreground until Ctrl+C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from peft_studio_offline.core.runtime import Runtime


async def serve(args: argparse.Namespace, runtime: Runtime) -> int:
    from peft_studio_offline.api import PREFIX, ApiServer, is_loopback, remote_warning

    server = ApiServer(
        runtime,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    # Before anything starts or is printed: a Ctrl+C (or a script's SIGINT) that comes as
    # soon as the URL is out must stop the server, not interrupt it half started.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for name in ("SIGINT", "SIGTERM"):
        with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
            loop.add_signal_handler(getattr(signal, name), stop.set)
    await runtime.start(auto_sync=False if args.no_auto_sync else None)
    url = await server.start()
    # The URL first, alone on its line: scripts read it to find a port chosen with --port 0.
    sys.stdout.write(f"{url}\n")
    sys.stdout.write(
        f"The API is at {url}{PREFIX}/ (token in {server.token_file}). Press Ctrl+C to stop.\n"
    )
    sys.stdout.flush()
    if not is_loopback(server.host) and not server.tls:
        sys.stderr.write(remote_warning(server.host, int(url.rsplit(":", 1)[1])) + "\n")
        sys.stderr.flush()
    waiter = asyncio.ensure_future(server.wait_closed())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        await server.stop()
        waiter.cancel()
    return 0
