"""Fresh virtualenvs and a real Prefect server for the install tests (`make test-install`).

Each virtualenv is built by uv from its local cache, so it holds exactly what is installed into
it and nothing of this checkout's .venv."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # this checkout's .venv: the server side of the tests


def run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    """Run `cmd`; its output on failure. Never the checkout's cwd, so nothing imports from it."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def base_python() -> Path:
    """The interpreter this .venv was made from: a fresh virtualenv starts from it."""
    return Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`prefect server start` on a free port; yields the environment that points a client at it."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {
        **clean_env(),
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    with (home / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
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
