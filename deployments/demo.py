"""`make demo` / `oncall demo`: every flow against the seeded sandbox on an ephemeral Prefect server.

Writes what it produced under `out/demo/` for a person to read.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import timedelta
from pathlib import Path

from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox


def prepare_prefect_env(home: Path) -> None:
    """A private, quiet Prefect home; must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")


def run_demo(out: Path, source: str = "opsgenie") -> list[Path]:
    """Every flow, reading alerts from the fake of `source` (opsgenie, jsm or rootly)."""
    out.mkdir(parents=True, exist_ok=True)
    prepare_prefect_env(out.parent / ".prefect-demo")
    with Sandbox.seeded(DEFAULT_ANCHOR) as sandbox:
        os.environ.update(sandbox.env(source))
        os.environ["ONCALL_OUT_DIR"] = str(out)
        os.environ["ONCALL_USE_PREFECT_CONFIG"] = "0"
        os.environ["ONCALL_GITHUB_WRITE_INTERVAL"] = "0"
        from flows.runbook_gaps import runbook_gaps
        from flows.shift_handoff import shift_handoff

        end = DEFAULT_ANCHOR.isoformat()
        # repost: each demo has a new sandbox, so an earlier demo's post to its Slack does not count
        shift_handoff(shift_end=end, deliver=["artifact", "slack", "file"], repost=True)
        runbook_gaps(window="-7d", window_end=end, max_issues=50, deliver=["artifact", "file"])
        from prefect.variables import Variable

        from flows.coe_prep import coe_prep
        from flows.incident_watch import WATERMARK, incident_watch

        # The demo replays the seeded week every time: watch it from its start.
        Variable.set(WATERMARK, (DEFAULT_ANCHOR - timedelta(days=7)).isoformat(), overwrite=True)
        watched = incident_watch()
        for incident_id in watched["events"]:  # what the coe-prep trigger does on a server
            coe_prep(incident_id=incident_id)
        slack = out / "slack.jsonl"
        slack.write_text(
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in sandbox.state.slack.messages)
        )
        issues = _write_issues(sandbox, out / "issues")
        coes = _write_coes(sandbox, out / "coe", out / "coe-tracker.csv")
    return [out / "handoff.md", slack, out / "coverage.md", issues, coes, out / "coe-tracker.csv"]


def _write_coes(sandbox: Sandbox, folder: Path, tracker: Path) -> Path:
    """Each COE document's final text, and the tracking sheet as CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):
        old.unlink()
    google = sandbox.state.google
    for file_id, meta in google.files.items():
        if meta["appProperties"].get("oncallIncidentId"):
            (folder / f"{meta['appProperties']['oncallIncidentId']}.md").write_text(
                google.text(file_id), encoding="utf-8"
            )
    with tracker.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"])
    return folder


def _write_issues(sandbox: Sandbox, folder: Path) -> Path:
    """Each issue the fake GitHub received, as markdown named by its number, with its comments."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.md"):
        old.unlink()
    repo = sandbox.state.github.repos[sandbox.state.runbook_repo]
    for issue in repo.issues:
        labels = ", ".join(label["name"] for label in issue["labels"])
        text = f"# #{issue['number']} {issue['title']}\n\nstate: {issue['state']} · labels: {labels}\n\n{issue['body']}\n"
        for comment in repo.comments.get(issue["number"], []):
            text += f"\n---\n\n**comment**\n\n{comment['body']}\n"
        (folder / f"{issue['number']}.md").write_text(text, encoding="utf-8")
    return folder
