"""What a server says is kept as words: markup is stripped whatever the Content-Type."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from peft_studio_offline.core.handlers.httputil import plain_text
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.servers import HttpServer, Reply

PAGE = (
    "<!DOCTYPE html><html><head><title>500</title><style>h1{font-size:90px}</style></head>"
    "<body><h1>Internal Server Error</h1><p>The server &amp; its proxy gave up.</p></body></html>"
)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "text/html", ""])
async def test_an_html_error_page_is_kept_as_its_words(tmp_path: Path, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with HttpServer(Reply(400, PAGE, headers)) as server:
        async with OfflineQueueManager(tmp_path / "q.db") as queue:
            op_id = await queue.enqueue("api_call", {"url": server.url("/x"), "method": "POST"})
            async with SyncEngine(queue, None) as engine:
                result = await engine.sync()
            op = await queue.get_operation(op_id)
    assert result["failed"] == 1
    assert op is not None and op.error_message is not None
    assert "<" not in op.error_message and "font-size" not in op.error_message
    assert op.error_message.endswith(": Internal Server Error The server & its proxy gave up.")


async def test_an_mlflow_error_page_is_kept_as_its_words() -> None:
    with HttpServer(Reply(404, PAGE, {"Content-Type": "text/plain"})) as server:
        async with httpx.AsyncClient() as http:
            client = MlflowRestClient(http, server.url(""))
            with pytest.raises(MlflowError) as caught:
                await client.get_run("run-1")
    said = caught.value.server_message or ""
    assert said == "Internal Server Error The server & its proxy gave up."


def test_text_without_tags_is_left_alone() -> None:
    assert plain_text("a < b > c & d") == "a < b > c & d"
    assert plain_text("<b>bold</b> &lt;x&gt;") == "bold <x>"
