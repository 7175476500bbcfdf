"""Network and synchronisation endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from peft_studio_offline.api.deps import engine_of, monitor_of
from peft_studio_offline.api.schemas import (
    ConflictStrategyRequest,
    MessageOut,
    NetworkStatusOut,
    StrategyOut,
    SyncResultOut,
    SyncStatusOut,
)
from peft_studio_offline.core.masking import mask_secrets

router = APIRouter(tags=["sync"])


@router.get("/network-status", response_model=NetworkStatusOut)
async def network_status(request: Request) -> dict[str, Any]:
    """The network monitor's last conclusion and its per-endpoint results."""
    return _network_info(request)


@router.post("/check-connectivity", response_model=NetworkStatusOut)
async def check_connectivity(request: Request) -> dict[str, Any]:
    """Check connectivity now and return the new status."""
    await monitor_of(request).check_connectivity()
    return _network_info(request)


@router.post("/sync", response_model=SyncResultOut)
async def sync_now(request: Request) -> dict[str, Any]:
    """Try every operation that is due now, whatever the monitor last said; wait for the end."""
    result = await engine_of(request).sync()
    return dict(mask_secrets(jsonable_encoder(result)))


@router.get("/sync/status", response_model=SyncStatusOut)
async def sync_status(request: Request) -> dict[str, Any]:
    """Whether a sync runs, automatic sync, the strategy, and the last run's figures."""
    return dict(mask_secrets(jsonable_encoder(engine_of(request).get_status())))


@router.post("/sync/start-auto", response_model=MessageOut)
async def start_auto_sync(request: Request) -> dict[str, Any]:
    """Sync by itself when the network comes back and operations fall due."""
    await engine_of(request).start_auto_sync()
    return {"message": "Automatic sync is on.", "auto_sync": True}


@router.post("/sync/stop-auto", response_model=MessageOut)
async def stop_auto_sync(request: Request) -> dict[str, Any]:
    """Stop syncing by itself; a manual sync still works."""
    await engine_of(request).stop_auto_sync()
    return {"message": "Automatic sync is off.", "auto_sync": False}


@router.post("/sync/conflict-strategy", response_model=StrategyOut)
async def set_conflict_strategy(body: ConflictStrategyRequest, request: Request) -> dict[str, Any]:
    """Set how conflicts found from now on are settled."""
    engine_of(request).set_conflict_strategy(body.strategy)
    return {"strategy": body.strategy}


def _network_info(request: Request) -> dict[str, Any]:
    monitor = monitor_of(request)
    info = dict(mask_secrets(jsonable_encoder(monitor.get_status_info())))
    info["status"] = monitor.status.value
    info["is_online"] = bool(monitor.is_online)
    return info
