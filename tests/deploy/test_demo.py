"""`make demo` (`oncall demo`) on an ephemeral Prefect server: every output a newcomer reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.processes import ROOT, clean_env


def test_demo_writes_every_output_and_is_repeatable(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    for _ in range(2):  # a second run replays the same week into the same folder
        done = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "demo", "--out", str(out)],
            cwd=ROOT,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    handoff = (out / "handoff.md").read_text()
    assert "Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST" in handoff and "Runbook coverage" in handoff
    slack = [json.loads(line) for line in (out / "slack.jsonl").read_text().splitlines()]
    assert slack and all(m["blocks"] for m in slack)
    assert "| DiskUsageWarning xqwatcher filesystem ext4 |" in (out / "coverage.md").read_text()
    issues = sorted((out / "issues").glob("*.md"))
    assert len(issues) > 10 and all("oncall-flows:runbook-gap" in p.read_text() for p in issues)
    [coe] = list((out / "coe").glob("*.md"))
    assert coe.name == "inc-7f3a-0001.md" and "{{" not in coe.read_text()
    rows = (out / "coe-tracker.csv").read_text().splitlines()
    assert rows[0].startswith("Incident ID,") and len(rows) == 2 and rows[1].startswith("inc-7f3a-0001,")
