"""What the window loads after its first paint, and how it keeps the collector's pauses short.

The network monitor, the sync engine, its handlers and the HTTP stack take about 100 ms to
import, more than the rest of the window, and the local API's web stack about 300 ms. The
app paints the queue first and then imports them on a worker thread (``import_services``,
then ``import_api_server``), so that the window keeps painting and answering meanwhile;
building the monitor, the engine and the API server afterwards costs next to nothing.
The HTTP stack also imports its connection machinery at the first request: that is done
here as well, not on the GUI thread in the middle of the first sync.

Once everything is loaded, ``freeze_startup_objects`` moves what exists into the garbage
collector's permanent generation: the modules, classes and widgets live as long as the
process, and every full collection during a sync would otherwise walk them all again
(pauses of 20-60 ms of the GUI thread, measured in ``benchmarks/gui_large_queue.py``).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging

log = logging.getLogger(__name__)

# The services the window drives; imported by the runtime when it builds them.
SERVICE_MODULES = (
    "httpx",
    "peft_studio_offline.core.network",
    "peft_studio_offline.core.sync.engine",
    "peft_studio_offline.core.handlers",
)
# What httpx imports on its first client and its first request (one-off, ~25 ms).
FIRST_REQUEST_MODULES = ("httpcore", "h11", "certifi", "anyio", "anyio._backends._asyncio")


def _import_services() -> None:
    for name in SERVICE_MODULES:
        importlib.import_module(name)
    for name in FIRST_REQUEST_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # another version of the HTTP stack: the first request will
            log.debug("Could not import %s ahead of the first request", name, exc_info=True)


async def import_services() -> None:
    """Import the monitor, the engine, the handlers and the HTTP stack on a worker thread."""
    await asyncio.to_thread(_import_services)


async def import_api_server() -> None:
    """Import the local API's server (the web stack) on a worker thread."""
    from peft_studio_offline import api

    await asyncio.to_thread(api.load_server)


def freeze_startup_objects() -> None:
    """Keep the objects made so far out of future collections (they live until the end)."""
    gc.collect()
    gc.freeze()
