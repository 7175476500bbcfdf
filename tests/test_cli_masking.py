"""The command line shows an operation's error and history masked, as the API does."""

from __future__ import annotations

import json
from pathlib import Path

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sealing import PayloadSealer
from peft_studio_offline.core.settings import Settings
from tests.test_cli import enqueue, ok

KEY = "payload-key-1b2c3d"
BEARER = "bearer-value-4e5f6a"
ECHOED = f"The server answered 400: Authorization: Bearer {BEARER}; unknown key {KEY}"


async def test_show_and_list_mask_echoed_secrets(isolated_home: Path) -> None:
    op_id = enqueue({"endpoint": "/m", "method": "POST", "headers": {"X-Api-Key": KEY}})
    # The app's queue: the stored key is encrypted, so the echo is masked as it is recorded.
    sealer = PayloadSealer.from_settings(Settings.load())
    async with OfflineQueueManager(isolated_home / "data" / "queue.db", sealer=sealer) as queue:
        (claimed,) = await queue.claim(limit=1)
        await queue.mark_failed(claimed.id, ECHOED, details={"answer": f"key={KEY}"})
    outputs = [ok("show", str(op_id)), ok("show", str(op_id), "--json"), ok("list", "--json")]
    for output in outputs:
        assert BEARER not in output and KEY not in output, output
    shown = json.loads(outputs[1])
    assert "Bearer ***" in shown["error_message"]
    assert shown["attempts"][-1]["error"] == shown["error_message"]
