"""``mlflow-env`` and ``run``: unchanged MLflow scripts logging into the queue.

``mlflow-env`` prints the two exports that point MLflow's client at the local endpoint.
``run -- CMD...`` runs a command with them set; when no app serves the endpoint, it serves
one itself (the core and the HTTP API, no window) for as long as the command runs, for that
command alone (it writes no discovery file; two commands run at once each have one). Every
call the script makes is committed to the queue before it is answered, so when the command
ends its data is queued, and the endpoint can stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys

import httpx

from peft_studio_offline.core.runtime import Runtime

URI_VARIABLE = "MLFLOW_TRACKING_URI"
TOKEN_VARIABLE = "MLFLOW_TRACKING_TOKEN"
MLFLOW_PATH = "/mlflow"
_PROBE_TIMEOUT = 2.0


def serving_url(runtime: Runtime) -> str | None:
    """The base URL of an app serving this data directory's API now, if one answers."""
    from peft_studio_offline.api import read_server_info, read_token, server_file

    info = read_server_info(server_file(runtime.settings.paths.data_dir))
    token = read_token(runtime.settings.paths.token_file)
    if info is None or token is None:
        return None
    probe = f"{info.url}{MLFLOW_PATH}/api/2.0/mlflow/experiments/get"
    try:
        answer = httpx.get(
            probe,
            params={"experiment_id": "0"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=_PROBE_TIMEOUT,
        )
    except httpx.HTTPError:
        return None
    return info.url if answer.status_code == 200 else None


def exports(url: str, token: str) -> dict[str, str]:
    return {URI_VARIABLE: f"{url}{MLFLOW_PATH}", TOKEN_VARIABLE: token}


async def mlflow_env(args: argparse.Namespace, runtime: Runtime) -> int:
    from peft_studio_offline.api import load_or_create_token

    token = load_or_create_token(runtime.settings.paths.token_file)
    url = await asyncio.to_thread(serving_url, runtime)
    if url is None:
        api = runtime.settings.api
        url = f"http://{api.host}:{api.port}"
        sys.stderr.write(
            f"Nothing serves the MLflow endpoint at {url}{MLFLOW_PATH} now: open the app or"
            " 'peft-studio-offline serve', or start the script with"
            " 'peft-studio-offline run -- python train.py'.\n"
        )
    for name, value in exports(url, token).items():
        sys.stdout.write(f"export {name}={shlex.quote(value)}\n")
    return 0


async def run_command(args: argparse.Namespace, runtime: Runtime) -> int:
    from peft_studio_offline.api import ApiServer, PortInUseError, load_or_create_token
    from peft_studio_offline.cli._parser import UsageError

    command = [part for part in args.cmd if part != "--"] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        raise UsageError("'run' needs a command to run, after '--'")
    token = load_or_create_token(runtime.settings.paths.token_file)
    url = await asyncio.to_thread(serving_url, runtime)
    server: ApiServer | None = None
    if url is None:
        await runtime.start()
        # Its own endpoint, not advertised: another command must not rely on one that ends
        # with this command.
        server = ApiServer(runtime, token=token, advertise=False)
        try:
            url = await server.start()
        except PortInUseError:  # something else has the usual port: any free one will do
            server = ApiServer(runtime, port=0, token=token, advertise=False)
            url = await server.start()
        sys.stderr.write(f"Serving the MLflow endpoint at {url}{MLFLOW_PATH} for this command.\n")
        sys.stderr.flush()
    env = {**os.environ, **exports(url, token)}
    try:
        return await _run_child(command, env)
    finally:
        if server is not None:
            await server.stop()


async def _run_child(command: list[str], env: dict[str, str]) -> int:
    try:
        child = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as exc:
        raise ValueError(f"The command {command[0]!r} cannot be started ({exc})") from None
    loop = asyncio.get_running_loop()
    forwarded: list[int] = []
    for name in ("SIGINT", "SIGTERM"):
        number = getattr(signal, name)
        with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
            # Ctrl+C reaches the script too; the endpoint stays until the script has ended.
            loop.add_signal_handler(number, _forward, child, number)
            forwarded.append(number)
    try:
        code = await child.wait()
    finally:
        for number in forwarded:
            loop.remove_signal_handler(number)
    return code if code >= 0 else 128 - code


def _forward(child: asyncio.subprocess.Process, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(number)
