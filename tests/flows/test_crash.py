"""Crash recovery: the flow's process is SIGKILLed mid-run, then the flow is run again.

The kill lands right after the fake has acted on the k-th write (an issue created, a document
copied or filled, a row appended), before the process can record anything: the rerun must
find that write by its key and finish the work without a second issue, document or row.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

from flows.coe_prep import coe_prep
from flows.runbook_gaps import runbook_gaps
from oncall.gaps import read_markers
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tasks.locks import lock_name
from tests.flows.conftest import LONG, coes, rows
from tests.processes import kill_after_writes

ROOT = Path(__file__).resolve().parents[2]
END = DEFAULT_ANCHOR.isoformat()


def _env() -> dict[str, str]:
    """This process's settings, and its test server, for a flow run in a child process."""
    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def _heal_lock(*parts: str) -> None:
    """What the lock's lease expiry does a minute after its holder died, done at once."""
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(lock_name(*parts))


@pytest.mark.parametrize("writes", [1, 4, 9])
def test_runbook_gaps_killed_after_a_write_finishes_on_the_rerun(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, writes: int
) -> None:
    repo = f"acme/crash-{writes}"
    sandbox.state.github.repo(repo)
    for key, value in {**sandbox.env(), "ONCALL_GITHUB_REPO": repo, "ONCALL_OUT_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    code = f"from flows.runbook_gaps import runbook_gaps; runbook_gaps(window='-7d', window_end={END!r}, max_issues=50)"
    assert kill_after_writes(code, sandbox, "github", writes, _env()) == -signal.SIGKILL
    issues = sandbox.state.github.repos[repo].issues
    assert writes <= len(issues) < 40  # the kill landed mid-run
    _heal_lock("runbook-gaps", repo)

    result = runbook_gaps(window="-7d", window_end=END, max_issues=50)
    fingerprints = [read_markers(i["body"])[0][1].fp for i in issues]
    assert len(fingerprints) == len(set(fingerprints)) == result["gaps"]
    assert not sandbox.state.github.repos[repo].comments


@pytest.mark.parametrize("writes", [1, 2, 3])
def test_coe_prep_killed_after_a_write_finishes_on_the_rerun(
    google: Sandbox,
    writes: int,
) -> None:
    code = f"from flows.coe_prep import coe_prep; coe_prep(incident_id={LONG!r})"
    assert kill_after_writes(code, google, "google", writes, _env()) == -signal.SIGKILL
    assert len(coes(google, LONG)) == 1  # the copy happened before the kill
    _heal_lock("coe-prep", LONG)

    assert coe_prep(incident_id=LONG)["status"] in ("created", "exists", "completed")
    [doc] = coes(google, LONG)
    text = google.state.google.text(doc["id"])
    assert "{{" not in text and "COE: xPro unavailable" in text
    assert len(rows(google, LONG)) == 1
