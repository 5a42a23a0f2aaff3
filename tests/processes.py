"""Helpers for tests that run real servers in child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from oncall.sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment without this session's ONCALL_* and PREFECT_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "PREFECT_"))}


@contextmanager
def prefect_server(
    home: Path, base_env: dict[str, str], ready_within: float = 240
) -> Iterator[dict[str, str]]:
    """`prefect server start` (this checkout's Prefect, SQLite under `home`) on a free port; yields
    `base_env` pointed at it. A fresh database migrates first, which takes minutes on a busy
    machine: hence the long wait. Its log is `home/server.log`, quoted when it does not start."""
    port = free_port()
    env = {
        **base_env,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    prefect = str(Path(sys.executable).parent / "prefect")
    with (home / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(
                    f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def serving(home: Path, *extra: str, ready_within: float = 240) -> Iterator[str]:
    """`make serve` in a child process; yields the server URL once it says it is ready.
    On exit, Ctrl-C (SIGINT) must stop it cleanly.

    Its output goes to `home/serve.log`, not a pipe: nobody would read a pipe once the server
    is ready, and a full one blocks the writer. It runs in a session of its own, so a serve
    that ignores Ctrl-C can be killed with its server and worker."""
    port, sandbox_port = free_port(), free_port()
    home.mkdir(parents=True, exist_ok=True)
    log = home / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deployments.serve",
                "--port",
                str(port),
                "--sandbox-port",
                str(sandbox_port),
                "--home",
                str(home),
                *extra,
            ],
            cwd=ROOT,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + ready_within
        while "Ctrl-C stops it." not in log.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("make serve did not get ready:\n" + log.read_text())
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # serve, its server and its worker
            proc.wait()
            raise
    assert code == 0, "make serve did not stop cleanly on Ctrl-C:\n" + log.read_text()[-4000:]


def kill_after_writes(code: str, sandbox: Sandbox, system: str, writes: int, env: dict[str, str]) -> int:
    """Run `code` in a new process; SIGKILL it once the fake has served `writes` POSTs to `system`."""

    def posts() -> int:  # writes the fake has answered; the OAuth token exchange is a POST too
        return sum(
            1
            for s in list(sandbox.app.served)
            if s.system == system and s.method == "POST" and s.status and not s.path.endswith("/token")
        )

    before = posts()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        if posts() - before >= writes:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    return proc.returncode
