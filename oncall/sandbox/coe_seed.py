"""An earlier COE, as a team leaves it between two review meetings: the demo's picture of a COE in
progress beside the one coe-prep makes for the seeded week.

Its document is the default template filled in, with the root cause written and the rest of the
analysis still the template's prompts; its corrective-actions table holds two actions, the first
already filed as a GitHub issue (by the same code coe-review files with, so its marker is the
flow's) and linked from its issue cell, the second not filed yet. Its tracker row is In review.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from oncall.clients.google import INCIDENT_KEY
from oncall.coe import TEMPLATE
from oncall.coe_action_filing import action_body, action_title
from oncall.coe_actions import read_actions
from oncall.coe_doc import blocks_from_markdown
from oncall.coe_review import read_entry
from oncall.sandbox.server import SandboxState
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.tracker import TRACKER_HEADER

INCIDENT = "inc-7f39-0042"
DOC = "doc-coe-earlier-grading-0042"
TITLE = "COE: Grading queue backlog on mitx-production"
FILED = "Alert when the grading queue is older than 10 minutes"
UNFILED = "Autoscale the xqueue workers on queue depth"
ROOT_CAUSE = (
    "A deploy doubled the xqueue workers' memory; the nodes' limit killed them in a loop, and the "
    "queue was not alerted on, only its workers' CPU."
)
_FACTS = {
    "incident.title": "Grading queue backlog on mitx-production",
    "incident.tiny_id": "94",
    "incident.priority": "P2",
    "incident.id": INCIDENT,
    "incident.status": "closed",
    "incident.duration": "1h 12m",
    "incident.services": "svc-xqueue",
    "source.name": "OpsGenie",
}


def _document(issue_number: int, start: datetime) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    text = re.sub(
        r"\{\{([a-z_.]+)\}\}", lambda m: _FACTS.get(m.group(1), start.strftime("%Y-%m-%d %H:%M")), text
    )
    text = text.replace("_What broke, and why? State the technical cause without blame._", ROOT_CAUSE)
    rows = text.split("| _(prevent it)_ | | | |\n| _(detect it sooner)_ | | | |\n", 1)
    assert len(rows) == 2, "the template's corrective-actions table changed"
    mine = f"| {FILED} | Ada Lovelace | #{issue_number} | {start.date() + timedelta(days=30)} |\n| {UNFILED} | Grace Hopper | | |\n"
    return rows[0] + mine + rows[1]


def seed_earlier_coe(state: SandboxState, anchor: datetime) -> str:
    """The earlier COE in Drive, the tracker and GitHub; returns its incident id."""
    start = anchor - timedelta(days=16)
    repo = state.runbook_repo
    link = f"{SANDBOX_WEB}/google/document/d/{DOC}/edit"
    cells = dict.fromkeys(TRACKER_HEADER, "")
    cells.update(
        {
            "Incident ID": INCIDENT,
            "Title": _FACTS["incident.title"],
            "Start": start.strftime("%Y-%m-%d %H:%M"),
            "Priority": "P2",
            "COE doc": link,
            "On call": "Ada Lovelace",
            "Status": "In review",
        }
    )
    row = [cells[name] for name in TRACKER_HEADER]
    tracker = state.sheets[state.coe_sheet]["COE tracker"]
    entry = read_entry(len(tracker) + 1, list(row), "UTC")
    assert entry is not None
    number = len(state.github.repo(repo).issues) + 1
    markdown = _document(number, start)
    template = blocks_from_markdown(TEMPLATE.read_text(encoding="utf-8"))
    table = read_actions(blocks_from_markdown(markdown), template, TITLE)
    first = next(r for r in table.rows if r.action == FILED)
    issue = state.github.new_issue(
        repo,
        action_title(first),
        action_body(entry, DOC, TITLE, first.model_copy(update={"issue": None})),
        ["coe-action"],
    )
    assert issue["number"] == number
    state.google.add_doc(DOC, TITLE, markdown, parent=state.coe_folder)
    state.google.files[DOC]["appProperties"] = {INCIDENT_KEY: INCIDENT}  # as coe-prep tags its copies
    tracker.append(row)
    return INCIDENT
