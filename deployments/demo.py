"""`make demo` / `oncall demo`: every flow against the seeded sandbox on an ephemeral Prefect server.

Writes what it produced under `out/demo/` for a person to read. The sandbox is gone when the demo
ends, so the links in those files are made to work offline: an issue links to `issues/N.md`, a
runbook entry to the copy under `runbook/`, a COE document to `coe/<incident>.md`; every other
sandbox link reads `https://sandbox.invalid/...` (a reserved name that never resolves), so no
link in them can be taken for a real vendor's page.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sources import DEFAULT_SOURCE, REGISTRY

# OWASP CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Vendor web hosts the clients build links on (OpsGenie alerts): in the demo they are the sandbox's.
VENDOR_WEB = {
    real: f"{SANDBOX_WEB}/{path}" for spec in REGISTRY.values() for real, path in spec.fake.web_links.items()
}


def csv_cell(value: object) -> str:
    """A tracker cell for the CSV, as the sheet shows it; formula-looking text gets a leading `'`."""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


class OfflineLinks:
    """Rewrites the sandbox's links in the demo's files into ones that work without it."""

    def __init__(self, sandbox_url: str, repo: str, documents: dict[str, str]) -> None:
        hosts = f"{re.escape(sandbox_url)}/github/{re.escape(repo)}"  # the GitHub fake's pages
        self.issue = re.compile(rf"{hosts}/(?:issues|pull)/(\d+)(?:#[\w-]*)?")
        self.blob = re.compile(rf"{hosts}/(?:blob|tree|raw)/[^/\s]+/([^\s)>|\"#]+)")
        self.document = re.compile(rf"{re.escape(SANDBOX_WEB)}/google/document/d/([\w-]+)/edit")
        self.sandbox_url = sandbox_url
        self.documents = documents  # document id -> incident id

    def __call__(self, text: str, depth: int = 0, markdown: bool = False) -> str:
        up = "../" * depth

        def issue(m: re.Match[str]) -> str:
            target = f"{up}issues/{m.group(1)}.md"
            bare = markdown and text[max(0, m.start() - 1) : m.start()] not in ("(", "<")
            return f"[#{m.group(1)}]({target})" if bare else target  # a bare URL was a link too

        text = self.issue.sub(issue, text)
        text = self.blob.sub(lambda m: f"{up}runbook/{m.group(1)}", text)
        text = self.document.sub(
            lambda m: f"{up}coe/{self.documents[m.group(1)]}.md" if m.group(1) in self.documents else m[0],
            text,
        )
        for real, sandbox in VENDOR_WEB.items():
            text = text.replace(real, sandbox)
        return text.replace(f"{self.sandbox_url}/", f"{SANDBOX_WEB}/")


def _relink(files: Iterable[Path], links: OfflineLinks, depth: int) -> None:
    for path in files:
        if path.is_file():
            text = links(path.read_text(encoding="utf-8"), depth, markdown=path.suffix == ".md")
            path.write_text(text, encoding="utf-8")


def prepare_prefect_env(home: Path) -> None:
    """A private, quiet Prefect home; must run before Prefect is imported."""
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "false")


def run_demo(out: Path, source: str = DEFAULT_SOURCE) -> list[Path]:
    """Every flow, reading alerts from the fake of `source` (any name in the source registry)."""
    out.mkdir(parents=True, exist_ok=True)
    prepare_prefect_env(out.parent / ".prefect-demo")
    from oncall.sandbox.coe_seed import seed_earlier_coe
    from oncall.sandbox.ops_seed import seed_ops_issues
    from oncall.sandbox.sre_seed import seed_sre_requests, sre_env

    with Sandbox.seeded(DEFAULT_ANCHOR) as sandbox:
        earlier = seed_earlier_coe(sandbox.state, DEFAULT_ANCHOR)  # a COE the team is writing
        seed_ops_issues(sandbox.state, DEFAULT_ANCHOR)  # operational-safety issues people filed
        seed_sre_requests(sandbox.state, DEFAULT_ANCHOR, github_web=sandbox.github_url)  # asked in Slack
        os.environ.update(sandbox.env(source))
        os.environ.update(sre_env(sandbox))
        os.environ["ONCALL_OUT_DIR"] = str(out)
        os.environ["ONCALL_USE_PREFECT_CONFIG"] = "0"
        os.environ["ONCALL_GITHUB_WRITE_INTERVAL"] = "0"
        from flows.runbook_gaps import runbook_gaps
        from flows.shift_handoff import shift_handoff

        end = DEFAULT_ANCHOR.isoformat()
        # repost: each demo has a new sandbox, so an earlier demo's post to its Slack does not count
        shift_handoff(shift_end=end, deliver=["artifact", "slack", "file"], repost=True)
        runbook_gaps(window="-7d", window_end=end, max_issues=50, deliver=["artifact", "file"])
        from flows.ops_review import ops_review

        ops_review(window="-7d", window_end=end, deliver=["artifact", "slack", "file"])
        from flows.sre_requests import sre_requests

        # the sweep: the request with the ticket reaction becomes an issue, a reply and a reaction
        sre_requests(window="-24h", window_end=end, deliver=["artifact", "file"])
        from prefect.variables import Variable

        from flows.coe_prep import coe_prep
        from flows.incident_watch import WATERMARK, incident_watch

        # The demo replays the seeded week every time: watch it from its start.
        Variable.set(WATERMARK, (DEFAULT_ANCHOR - timedelta(days=7)).isoformat(), overwrite=True)
        watched = incident_watch()
        for incident_id in watched["events"]:  # what the coe-prep trigger does on a server
            coe_prep(incident_id=incident_id)
        from flows.coe_review import coe_actions, coe_review
        from oncall.coe_review import meeting_clock, next_meeting
        from oncall.settings import Settings

        # The first review meeting after the seeded week: the same agenda on every demo, which
        # starts without what an earlier demo's review wrote and posted (its sandbox is gone).
        from tasks.coe_review import STATUS_RECORD
        from tasks.delivery import artifact_key

        for record in (STATUS_RECORD, artifact_key("oncall-slack-posted", "coe-review")):
            Variable.unset(record)
        s = Settings()
        meeting = next_meeting(
            DEFAULT_ANCHOR,
            s.coe_review_anchor,
            s.coe_review_every_weeks,
            *meeting_clock(s.coe_review_at),
            s.team_timezone,
        )
        coe_review(meeting=meeting.isoformat(), deliver=["artifact", "slack", "file"])
        coe_actions(incident_id=earlier)  # the actions step: the review filed them; nothing twice
        slack = out / "slack.jsonl"
        slack.write_text(
            "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in sandbox.state.slack.messages)
        )
        issues = _write_issues(sandbox, out / "issues")
        coes = _write_coes(sandbox, out / "coe", out / "coe-tracker.csv")
        runbook = _write_runbook(sandbox, out / "runbook")
        links = OfflineLinks(sandbox.url, sandbox.state.runbook_repo, _documents(sandbox))
        agenda = out / "coe-agenda.md"
        _relink(
            [
                out / "handoff.md",
                out / "coverage.md",
                out / "ops-review.md",
                out / "sre-requests.md",
                agenda,
                slack,
                out / "slack-handoff.json",
            ],
            links,
            0,
        )
        _relink([out / "coe-tracker.csv"], links, 0)
        _relink(sorted(issues.glob("*.md")) + sorted(coes.glob("*.md")), links, 1)
    return [
        out / "handoff.md",
        slack,
        out / "coverage.md",
        out / "ops-review.md",
        out / "sre-requests.md",
        issues,
        coes,
        out / "coe-tracker.csv",
        agenda,
        runbook,
    ]


def _documents(sandbox: Sandbox) -> dict[str, str]:
    """Each COE document's id, and the incident it is for."""
    return {
        file_id: meta["appProperties"]["oncallIncidentId"]
        for file_id, meta in sandbox.state.google.files.items()
        if meta["appProperties"].get("oncallIncidentId")
    }


def _write_runbook(sandbox: Sandbox, folder: Path) -> Path:
    """The sandbox repository's files at main (the runbook), where the offline links point."""
    repo = sandbox.state.github.repos[sandbox.state.runbook_repo]
    for key, text in repo.files.items():
        path, _, ref = key.rpartition("@")
        if ref == "main" and path and ".." not in Path(path).parts:
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text, encoding="utf-8")
    return folder


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
    rows = sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"]
    with tracker.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([csv_cell(cell) for cell in row] for row in rows)
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
