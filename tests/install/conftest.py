"""Fresh virtualenvs and a real Prefect server for the install tests (`make test-install`).

Each virtualenv is built by uv from its local cache, so it holds exactly what is installed into
it and nothing of this checkout's .venv."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import clean_env
from tests.processes import prefect_server as start_server

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
    with start_server(tmp_path_factory.mktemp("prefect-server"), clean_env()) as env:
        yield env
