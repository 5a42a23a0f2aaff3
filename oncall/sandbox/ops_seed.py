"""Operational-safety issues people filed by hand before the seeded week: what the advocacy
digest must keep in front of the team beside the ones ops-review files.

Two are open, of different ages and idle for different lengths, so the digest's age and idle
columns and its "ranked by age" order read something; one was closed during the week, so
"closed this week" has a row. People wrote them, so none carries a marker: the digest shows
them as filed by hand, with no pages counted against them. The topics are the team's
(MIT Open Learning): the older one is the gap the earlier COE's incident later fell into.

GitHub's times are set as it keeps them (`created_at`, `updated_at` for the last activity,
`closed_at`), counted back from the anchor, so the same anchor always reads the same ages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oncall.sandbox.server import SandboxState

LABEL = "operational-safety"  # Settings.ops_label's default


@dataclass(frozen=True)
class HandFiled:
    title: str
    body: str
    author: str
    age_days: float
    idle_days: float  # since its last activity (a comment, when there is one)
    comment: str | None = None
    closed_days: float | None = None  # closed this many days before the anchor


ISSUES = (
    HandFiled(
        "No alert on the xqueue grading backlog",
        "Only the xqueue workers' CPU is alerted on. When the workers die in a loop, CPU drops and "
        "the queue grows with no page: learners' submissions wait for hours and we hear it from "
        "the course teams.\n\n"
        "Proposal: an Alertmanager rule on the oldest submission's age in the queue (page above "
        "10 minutes on mitx-production and mitxonline-production), with a runbook entry.\n",
        "alice-ng",
        45,
        31,
        comment="Seen again this morning: the queue was 40 minutes behind before a course team told us.",
    ),
    HandFiled(
        "Pingdom checks page for staging",
        "The Pingdom checks for the staging and rc hosts use the production alert policy, so a "
        "staging deploy pages whoever is on call, at night too.\n\n"
        "Staging checks should notify #platform only, and never page.\n",
        "chen-li",
        9,
        9,
    ),
    HandFiled(
        "Vault audit log fills /var on operations-qa",
        "The audit device writes to /var/log/vault without rotation; the disk fills every three "
        "weeks and VaultAbsent pages for operations-qa.\n",
        "emil-varga",
        20,
        3,
        comment="logrotate config shipped in the Vault role; disk at 31%.",
        closed_days=3,
    ),
)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_ops_issues(state: SandboxState, anchor: datetime) -> list[int]:
    """The hand-filed operational-safety issues in the runbook repository; returns their numbers."""
    repo_name = state.runbook_repo
    repo = state.github.repo(repo_name)
    numbers = []
    for spec in ISSUES:
        issue = state.github.new_issue(repo_name, spec.title, spec.body, [LABEL], creator=spec.author)
        created = anchor - timedelta(days=spec.age_days)
        active = anchor - timedelta(days=spec.idle_days)
        issue.update(created_at=_stamp(created), updated_at=_stamp(active))
        if spec.comment is not None:
            ident = state.github.next_id()
            comment: dict[str, Any] = {
                "id": ident,
                "node_id": f"IC_{ident}",
                "body": spec.comment,
                "user": {"login": spec.author, "id": ident, "type": "User"},
                "created_at": _stamp(active),
                "updated_at": _stamp(active),
                "author_association": "MEMBER",
            }
            repo.comments.setdefault(issue["number"], []).append(comment)
            issue["comments"] = len(repo.comments[issue["number"]])
        if spec.closed_days is not None:
            closed = _stamp(anchor - timedelta(days=spec.closed_days))
            issue.update(state="closed", state_reason="completed", closed_at=closed, updated_at=closed)
        numbers.append(int(issue["number"]))
    return numbers
