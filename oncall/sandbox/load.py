"""The scale scenario: a heavy week for a busy team, served by the same fakes.

50,000 alerts in the shift, a runbook of 1,000 entries, 5,000 runbook-gap issues already
filed, and 200 incidents in the week, each with its timeline. `make bench` runs every flow
on it; the numbers it reports are about this scenario.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from oncall.gaps import GapMarker, fingerprint
from oncall.sandbox.seed import (
    DEFAULT_ANCHOR,
    SCHEDULE,
    TEAM,
    USERS,
    iso,
    seed_state,
    seed_week,
    synthetic_alerts,
)
from oncall.sandbox.server import SandboxState
from oncall.sources import DEFAULT_SOURCE, REGISTRY

ALERTS = 50_000
ENTRIES = 1_000
EXISTING_ISSUES = 5_000
INCIDENTS = 200
OPEN_COES = 20  # in the tracker, In review, each with its document: coe-review reads each once
DONE_COES = 5  # Done: coe-review reads no document of theirs


def load_runbook(entries: int = ENTRIES) -> str:
    """A runbook in the real one's shape: products as `##`, alert entries as `###`."""
    out = ["# On-call runbook (scale scenario)", ""]
    for n in range(entries):
        if n % 10 == 0:
            out += [f"## Product {n // 10:03d}", ""]
        out += [
            f"### SyntheticAlert{n:04d} service-{n % 97:02d} <ENV>",
            "",
            "_Diagnosis_",
            "",
            f"Check the dashboard for service-{n % 97:02d}.",
            "",
            "_Mitigation_",
            "",
            "Restart the deployment.",
            "",
        ]
    return "\n".join(out)


def _gap_issue(number: int, at: datetime) -> tuple[str, str]:
    """An older gap issue for a kind that no longer pages: the index must read past it."""
    kind = f"RetiredAlert{number:05d} service-{number % 97:02d}"
    marker = GapMarker(fp=fingerprint(kind), kind=kind, sample=kind, last=at)
    return f"Runbook gap: {kind}", f"An alert paged without a runbook entry.\n\n{marker.encode()}"


def _coes(state: SandboxState, anchor: datetime) -> None:
    """The tracker of a team with COEs to review: each open one's document is the template with
    its root cause written; started two days before the anchor, so none is old enough to nudge."""
    from oncall.coe import TEMPLATE
    from oncall.sandbox.urls import SANDBOX_WEB

    template = TEMPLATE.read_text(encoding="utf-8")
    written = template.replace(
        "_What broke, and why? State the technical cause without blame._", "The disk filled up."
    )
    rows = state.sheets[state.coe_sheet]["COE tracker"]
    for n in range(OPEN_COES + DONE_COES):
        doc_id = f"doc-load-coe-{n:04d}-xxxxxxxx"
        done = n >= OPEN_COES
        if not done:
            state.google.add_doc(doc_id, f"COE load {n}", written, parent=state.coe_folder)
        start = (anchor - timedelta(days=2, minutes=n)).strftime("%Y-%m-%d %H:%M")
        link = f"{SANDBOX_WEB}/google/document/d/{doc_id}/edit"
        status = "Done" if done else "In review"
        rows.append([f"inc-load-{n:04d}", f"Load incident {n}", start, "", "P2", link, "", status, ""])


def load_state(anchor: datetime = DEFAULT_ANCHOR) -> SandboxState:
    """The scenario on the default source's fake; the others serve the ordinary seeded week."""
    state = seed_state(anchor)
    heavy = seed_week(anchor)
    week = (anchor - timedelta(days=7), anchor)
    heavy.set_alerts(synthetic_alerts(ALERTS, *week))
    heavy.alert_logs.clear()
    repo = state.github.repo(state.runbook_repo)
    repo.files[f"{state.runbook_path}@main"] = load_runbook()
    for n in range(EXISTING_ISSUES):
        title, body = _gap_issue(n, week[0] - timedelta(days=30))
        issue = state.github.new_issue(state.runbook_repo, title, body, ["runbook-gap"])
        if n % 3:
            issue["state"], issue["state_reason"] = "closed", "completed"
    rng = random.Random(200)
    incidents, timelines = [], {}
    for n in range(INCIDENTS):
        created = week[0] + timedelta(minutes=50 * n + rng.randint(0, 20))
        minutes = rng.choice((4, 8, 15, 25, 47, 90))
        resolved = created + timedelta(minutes=minutes)
        inc_id = f"inc-load-{n:04d}"
        owner = USERS[n % len(USERS)]
        incidents.append(
            {
                "id": inc_id,
                "tinyId": str(5000 + n),
                "message": f"Load incident {n}: service-{n % 97:02d} degraded",
                "status": "closed",
                "isSeen": True,
                "tags": ["load"],
                "createdAt": iso(created),
                "updatedAt": iso(resolved + timedelta(minutes=3)),
                "source": "Opsgenie",
                "owner": owner["name"],
                "priority": rng.choice(("P1", "P2", "P3")),
                "ownerTeam": TEAM["id"],
                "responders": [TEAM],
                "extraProperties": {},
                "impactedServices": [f"svc-{n % 97:02d}"],
            }
        )
        entries = [
            ("IncidentCreated", created, "Incident created"),
            ("IncidentResolved", resolved, "Resolved"),
            ("IncidentClosed", resolved + timedelta(minutes=3), "Closed"),
        ]
        timelines[inc_id] = [
            {
                "id": f"{inc_id}-e{i}",
                "group": "incident",
                "type": kind,
                "eventTime": iso(at),
                "hidden": False,
                "actor": {"name": owner["name"], "type": "user"},
                "description": {"type": "text", "content": text},
            }
            for i, (kind, at, text) in enumerate(entries)
        ]
    heavy.incidents = incidents
    heavy.timelines = timelines
    _coes(state, anchor)
    assert heavy.schedules[0]["id"] == SCHEDULE["id"]
    state.sources[DEFAULT_SOURCE] = REGISTRY[DEFAULT_SOURCE].fake.seed(heavy)
    return state
