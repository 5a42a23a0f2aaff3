"""OpsGenie's official SDK (`opsgenie-sdk` on PyPI) against the fake, for every call oncall makes.

The SDK predates urllib3 2.6 and cannot share the project's lock, so it runs from a small
virtualenv of its own (`.venv-opsgenie-sdk`, ignored by git, built once and reused). A venv
that cannot be built fails this test with pip's output; it is never skipped. The SDK has no
schedule, on-call or incident-timeline API; those answers are checked against the spec in
test_opsgenie.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall.models import AlertQuery, TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sources.opsgenie.client import build_query

ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / ".venv-opsgenie-sdk"
SCRIPT = Path(__file__).with_name("sdk") / "opsgenie_sdk_calls.py"
REQUIREMENTS = ("opsgenie-sdk==2.1.5", "urllib3<2.6")
WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


def _sdk_python() -> Path:
    """The venv's python, building the venv first when it is missing or incomplete."""
    python = VENV / "bin" / "python"
    marker = VENV / ".built"
    if marker.exists() and marker.read_text() == "\n".join(REQUIREMENTS):
        return python
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            pytest.fail(
                f"could not build the opsgenie-sdk virtualenv at {VENV}: {' '.join(step)} exited "
                f"{done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
    marker.write_text("\n".join(REQUIREMENTS))
    return python


@pytest.fixture(scope="module")
def own() -> Iterator[Sandbox]:
    """A sandbox of this module's own: the alert the SDK creates stays out of other tests."""
    with Sandbox.seeded(DEFAULT_ANCHOR) as sb:
        yield sb


def _run(sb: Sandbox, query: str) -> dict[str, Any]:
    env = {**os.environ, "OG_URL": sb.opsgenie_url, "OG_KEY": sb.state.opsgenie.api_key}
    done = subprocess.run(
        [str(_sdk_python()), str(SCRIPT), query],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def test_the_official_sdk_parses_every_answer_the_project_reads(own: Sandbox) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    query = build_query(AlertQuery(created=WEEK))
    out = _run(own, query)
    expected = [a["id"] for a in own.state.opsgenie.matching(query)]
    assert out["count"] == len(expected) > 100  # more than one page
    assert out["listed"] == expected
    assert out["or_query_ok"] is True
    assert out["alert"]["id"] == expected[0] and out["logs"] >= 1 and out["notes"] >= 0
    closed = sorted(
        (i for i in own.state.opsgenie.incidents if i["status"] in ("closed", "resolved")),
        key=lambda i: i["createdAt"],
    )
    assert out["incidents"] == [i["id"] for i in closed] and out["incident"] == closed[0]["id"]
    assert out["create"]["result"] == "Request will be processed" and out["create"]["request_id"]
    assert out["status"]["is_success"] is True
    [created] = out["created"]
    assert created["id"] == out["status"]["alert_id"] and created["message"].startswith("Zoë@ops-team")
    assert before <= datetime.fromisoformat(created["created"]) <= datetime.now(UTC) + timedelta(seconds=2)
    assert out["too_long"] == 422
