"""A separate process working on a queue file, for the multi-process tests.

python queue_worker.py claim DB      # claim and complete until the queue is drained
python queue_worker.py enqueue DB    # enqueue forever, printing each acknowledged id
python queue_worker.py dump DB       # print every operation as JSON lines
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from peft_studio_offline import OfflineQueueManager


async def claim(path: str) -> None:
    async with OfflineQueueManager(path) as queue:
        # Start together with the other workers: wait for the go file next to the database.
        print("ready", flush=True)
        go = Path(path).with_name("go")
        while not go.exists():
            await asyncio.sleep(0.01)
        idle = 0
        while idle < 20:
            batch = await queue.claim(7)
            if not batch:
                idle += 1
                await asyncio.sleep(0.05)
                continue
            idle = 0
            for operation in batch:
                print(operation.id, flush=True)
                await queue.mark_completed(operation.id)


async def enqueue(path: str) -> None:
    async with OfflineQueueManager(path) as queue:
        n = 0
        while True:
            payload = {"n": n, "text": f"entry {n}"}
            if n % 3 == 0:
                ids = await queue.enqueue_many(
                    [
                        {"operation_type": "metric_log", "payload": payload | {"i": i}}
                        for i in range(5)
                    ]
                )
                for i, op_id in enumerate(ids):
                    print(json.dumps({"id": op_id, "payload": payload | {"i": i}}), flush=True)
            else:
                op_id = await queue.enqueue("api_call", payload, priority=n % 7)
                print(json.dumps({"id": op_id, "payload": payload}), flush=True)
            n += 1


async def dump(path: str) -> None:
    async with OfflineQueueManager(path) as queue:
        for operation in await queue.list_operations(limit=None):
            print(json.dumps(operation.to_dict()))


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    asyncio.run({"claim": claim, "enqueue": enqueue, "dump": dump}[mode](path))
