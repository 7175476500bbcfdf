"""``serve --tls-cert/--tls-key``: the API over HTTPS with the user's certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer, ServerError
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "api.pem", folder / "api.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_the_api_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    runtime = Runtime(Settings.load())
    await runtime.queue.open()
    server = ApiServer(runtime, port=0, tls_cert=cert, tls_key=key)
    try:
        url = await server.start()
        assert url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(verify=trusted, headers=headers) as client:
            answer = await client.get(f"{url}/api/offline/queue/stats")
            assert answer.status_code == 200
        async with httpx.AsyncClient(headers=headers) as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(url.replace("https://", "http://") + "/api/offline/queue/stats")
    finally:
        await server.stop()
        await runtime.close()


async def test_a_certificate_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    runtime = Runtime(Settings.load())
    try:
        with pytest.raises(ServerError, match="needs both a certificate"):
            ApiServer(runtime, port=0, tls_cert=cert)
        with pytest.raises(ServerError, match=r"api\.key.* cannot be used"):
            ApiServer(runtime, port=0, tls_cert=cert, tls_key=tmp_path / "api.key.missing")
        with pytest.raises(ServerError, match="cannot be used"):
            ApiServer(runtime, port=0, tls_cert=key, tls_key=key)
    finally:
        await runtime.close()
