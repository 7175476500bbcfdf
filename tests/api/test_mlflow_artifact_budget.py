"""An artifact logged through the local MLflow endpoint counts against the storage budget."""

from __future__ import annotations

from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for
from tests.api.conftest import LiveApi
from tests.api.test_mlflow_endpoint import ARTIFACTS, new_run


async def test_an_artifact_past_the_budget_is_refused_and_not_kept(live_api: LiveApi) -> None:
    runtime = live_api.runtime
    budget = runtime.queue.storage_budget
    assert budget is not None
    experiment_id, run_id = await new_run(live_api)
    level = await runtime.queue.storage_usage()
    assert level is not None
    budget.set_limit(level.used + 200_000)
    before = await runtime.queue.get_queue_stats()

    small = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/notes.txt"
    answer = await live_api.client.put(small, content=b"n" * 1000)
    assert answer.status_code == 200, answer.text

    big = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/adapter/weights.bin"
    answer = await live_api.client.put(big, content=b"w" * 1_000_000)
    assert answer.status_code == 503
    assert answer.json()["message"].startswith("The storage budget has no room for this")
    staged = staging_root_for(runtime.db_path) / experiment_id / run_id / "artifacts"
    assert (staged / "notes.txt").exists()
    assert not (staged / "adapter" / "weights.bin").exists()
    after = await runtime.queue.get_queue_stats()
    assert after["total"] == before["total"] + 1  # the small one's upload only
