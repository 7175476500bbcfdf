"""A service that tells the client what it sent: the worst case for secrets in error text.

Paths containing ``/fail`` answer 400 with a ``detail`` quoting every request header, as
``name: value`` lines and then the bare values, and the full URL; other paths answer 200
with the headers and the URL in a JSON body. ``/health`` answers 200.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.sync_apps import Receive, Scope, Send


class EchoApp:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        url = scope["path"] + (f"?{query}" if query else "")
        body: dict[str, Any]
        if "/fail" in scope["path"]:
            status = 400
            lines = [f"{name}: {value}" for name, value in headers]
            values = " ".join(value for _, value in headers)
            body = {"detail": "\n".join([*lines, f"values: {values}", f"url: {url}"])}
        else:
            status = 200
            body = {"headers": dict(headers), "url": url}
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
