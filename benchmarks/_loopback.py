"""A benchmark's own HTTP service on 127.0.0.1, run in a process of its own."""

from __future__ import annotations

from pathlib import Path


def serve_app(module: str, port: int) -> None:
    """Serve ``app`` from the benchmark module ``module`` (a file beside this one)."""
    import uvicorn

    uvicorn.run(
        f"{module}:app",
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        app_dir=str(Path(__file__).parent),
    )
