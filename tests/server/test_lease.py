"""A run SIGKILLed while it holds its lock, on a real Prefect server (`prefect server start`).

The crash tests in tests/flows free the dead run's lock by hand, because the test harness's
temporary server runs no repossessor and never frees it. Here nobody helps: the rerun waits
until the dead run's lease lapses (60 s) and the server's repossessor (every 15 s) frees the
slot, then finishes the work without a second issue. About 90 s. Run with `make test-server`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deployments.serve import prefect_server
from oncall.gaps import read_markers
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tasks.locks import lock_name
from tests.processes import ROOT, clean_env, free_port, kill_after_writes

REPO = "acme/lease"
LOCK = lock_name("runbook-gaps", REPO)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {**clean_env(), "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with prefect_server(port, env, home / "server.log"):
        yield f"http://127.0.0.1:{port}/api"


def _holders(api: str) -> int:
    limit = httpx.get(f"{api}/v2/concurrency_limits/{LOCK}", timeout=10).json()
    return int(limit["active_slots"])


def test_a_killed_runs_lock_lapses_and_the_rerun_finishes_the_work(
    server: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.state.github.repo(REPO)
    env = {
        **clean_env(),
        **sandbox.env(),
        "PREFECT_API_URL": server,
        "PREFECT_HOME": str(tmp_path / "client"),
        "ONCALL_GITHUB_REPO": REPO,
        "ONCALL_GITHUB_WRITE_INTERVAL": "0",
        "ONCALL_OUT_DIR": str(tmp_path),
    }
    run = (
        "import json; from flows.runbook_gaps import runbook_gaps; "
        f"print(json.dumps(runbook_gaps(window='-7d', window_end={DEFAULT_ANCHOR.isoformat()!r}, max_issues=50)))"
    )
    assert kill_after_writes(run, sandbox, "github", 1, env) == -signal.SIGKILL
    issues = sandbox.state.github.repos[REPO].issues
    assert 1 <= len(issues) < 40  # the kill landed mid-run
    assert _holders(server) == 1  # the dead run still holds the lock

    rerun = subprocess.run(
        [sys.executable, "-c", run], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
    assert f"Lock {LOCK} is held by another run; waiting" in rerun.stdout + rerun.stderr
    result = json.loads(rerun.stdout.strip().splitlines()[-1])
    fingerprints = [read_markers(i["body"])[0][1].fp for i in issues]
    assert len(fingerprints) == len(set(fingerprints)) == result["gaps"]
    assert _holders(server) == 0
