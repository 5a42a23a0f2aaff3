"""Beyond SQLite: the Prefect server on PostgreSQL (with pg_trgm), a flow run through a worker.

Debian's PostgreSQL runs as the postgres user in a throwaway data directory; `.ci/run`
installs it when missing. Run with `make test-postgres`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import clean_env, free_port, serving

PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=Path("/nonexistent")
)


def _as_postgres(*args: str) -> str:
    done = subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    port = free_port()
    data = Path(f"/tmp/oncall-pg-{port}")
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    # -l: the server writes to a file, not to our pipes (else run() would wait for them forever).
    _as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(data / "server.log"),
        "-o",
        f"-p {port} -k {data} -h 127.0.0.1",
        "-w",
        "start",
    )
    try:
        psql = [
            str(PG_BIN / "psql") if (PG_BIN / "psql").exists() else "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
        ]
        _as_postgres(*psql, "-c", "CREATE DATABASE prefect")
        _as_postgres(*psql, "-d", "prefect", "-c", "CREATE EXTENSION IF NOT EXISTS pg_trgm")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
        flow_runs = _as_postgres(
            *psql, "-d", "prefect", "-tAc", "SELECT count(*) FROM flow_run WHERE state_type = 'COMPLETED'"
        )
        assert int(flow_runs.strip()) >= 1, "the completed run is not in PostgreSQL"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_a_flow_runs_through_a_worker_on_a_postgres_backed_server(postgres: str, tmp_path: Path) -> None:
    with serving(tmp_path / "home", "--database-url", postgres) as url:
        script = (
            "from prefect.deployments import run_deployment\n"
            "run = run_deployment('shift-handoff/shift-handoff', parameters={'dry_run': True}, timeout=180)\n"
            "print(run.state.type.value)\n"
        )
        env = {**clean_env(), "PREFECT_API_URL": f"{url}/api", "PREFECT_HOME": str(tmp_path / "client")}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240
        )
        assert done.stdout.strip().splitlines()[-1:] == ["COMPLETED"], (
            done.stdout[-2000:] + done.stderr[-2000:]
        )
