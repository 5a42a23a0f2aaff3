"""runbook-gaps, decided: which alert kinds lack an entry, and what to do on GitHub about it.

Pure. `assess_coverage` matches every alert of the window against the runbook and groups
them by kind; `plan_gap_actions` compares that with the existing gap issues (found by the
fingerprint marker hidden in their body) and returns the writes to make. Applying them is
the flow's job, and every write there looks for its marker first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from enum import StrEnum
from functools import cache

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from oncall.clients.github import IssueRef
from oncall.coverage import Match, Matcher
from oncall.kinds import alert_kind
from oncall.models import Alert, Priority, priority_rank

MARKER = "oncall-flows:runbook-gap"
_MARKER_RE = re.compile(r"<!-- " + re.escape(MARKER) + r"(?P<update>-update)? (?P<data>[A-Za-z0-9_=-]+) -->")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def fingerprint(kind: str) -> str:
    """Stable id of a kind: the key that makes filing idempotent across runs and machines."""
    return hashlib.sha256(kind.encode("utf-8")).hexdigest()[:16]


class GapMarker(_Frozen):
    """What a gap issue remembers, hidden in its body: the kind, a sample title, the newest alert reported."""

    fp: str
    kind: str
    sample: str
    last: datetime

    @field_validator("kind", "sample")
    @classmethod
    def _short(cls, v: str) -> str:
        return v[:500]  # the marker must stay small whatever the alert text

    def encode(self, update: bool = False) -> str:
        data = base64.urlsafe_b64encode(self.model_dump_json().encode()).decode()
        return f"<!-- {MARKER}{'-update' if update else ''} {data} -->"


def read_markers(text: str) -> list[tuple[bool, GapMarker]]:
    """Every marker in `text` as (is_update, marker); unreadable ones are ignored."""
    out = []
    for m in _MARKER_RE.finditer(text):
        try:
            raw = json.loads(base64.urlsafe_b64decode(m.group("data")))
            out.append((m.group("update") is not None, GapMarker.model_validate(raw)))
        except (ValueError, ValidationError):
            continue
    return out


def with_marker(body: str, marker: GapMarker) -> str:
    """`body` with its (non-update) marker replaced, so the next run compares against `marker.last`."""
    return _MARKER_RE.sub(lambda m: marker.encode() if not m.group("update") else m.group(0), body, count=1)


def last_reported(marker: GapMarker, comments: list[str]) -> datetime:
    """The newest alert already reported for this issue, from its body and its update comments."""
    times = [
        m.last for text in comments for is_update, m in read_markers(text) if is_update and m.fp == marker.fp
    ]
    return max([marker.last, *times])


class KindCoverage(_Frozen):
    kind: str
    fingerprint: str
    alerts: list[Alert]  # oldest first
    match: Match | None  # the entry covering most of them
    covered: int  # alerts covered

    @property
    def status(self) -> str:
        if self.covered == len(self.alerts):
            return "covered"
        return "partial" if self.covered else "gap"

    @property
    def occurrences(self) -> int:
        return sum(a.count for a in self.alerts)

    @property
    def top_priority(self) -> Priority | None:
        return min((a.priority for a in self.alerts), key=priority_rank)

    @property
    def sample(self) -> Alert:
        return self.alerts[-1]


def assess_coverage(alerts: list[Alert], matcher: Matcher) -> list[KindCoverage]:
    """Every kind that paged, with its covering entry, noisiest first."""
    # A week of alerts repeats a few thousand messages: each is reduced and matched once.
    kind_of, match_of = cache(alert_kind), cache(matcher.match)
    groups: dict[str, list[Alert]] = defaultdict(list)
    for alert in sorted(alerts, key=lambda a: (a.created_at, a.id)):
        groups[kind_of(alert.message)].append(alert)
    out = []
    for kind, group in groups.items():
        matches = [match_of(a.message) for a in group]
        hits = [m for m in matches if m is not None]
        best = Counter(m.entry.line for m in hits).most_common(1)
        match = next(m for m in hits if m.entry.line == best[0][0]) if best else None
        out.append(
            KindCoverage(
                kind=kind, fingerprint=fingerprint(kind), alerts=group, match=match, covered=len(hits)
            )
        )
    out.sort(key=lambda k: (priority_rank(k.top_priority), -k.occurrences, k.kind))
    return out


class Act(StrEnum):
    CREATE = "create"
    COMMENT = "comment"
    REOPEN = "reopen"
    CLOSE = "close"
    HOLD = "hold"  # over the per-run cap; filed by a later run
    LEAVE = "leave"  # closed as not planned: a person decided


class GapAction(_Frozen):
    act: Act
    kind: str
    fingerprint: str
    reason: str
    issue: IssueRef | None = None
    coverage: KindCoverage | None = None
    new_alerts: list[Alert] = []


class ExistingGap(_Frozen):
    issue: IssueRef
    marker: GapMarker


def index_gap_issues(issues: list[IssueRef]) -> dict[str, ExistingGap]:
    """Gap issues by fingerprint. Of duplicates (a person copied one), the open, lowest-numbered wins."""
    found: dict[str, ExistingGap] = {}
    for issue in sorted(issues, key=lambda i: (i.state != "open", i.number)):
        markers = [m for is_update, m in read_markers(issue.body) if not is_update]
        if markers and markers[0].fp not in found:
            found[markers[0].fp] = ExistingGap(issue=issue, marker=markers[0])
    return found


def plan_gap_actions(
    coverage: list[KindCoverage],
    existing: dict[str, ExistingGap],
    matcher: Matcher,
    *,
    max_issues: int,
    close_covered: bool = False,
) -> list[GapAction]:
    """The writes to make: create, comment, reopen or close, never more than `max_issues` new or reopened."""
    actions: list[GapAction] = []
    budget = max_issues
    seen: set[str] = set()
    for kc in coverage:
        seen.add(kc.fingerprint)
        gap = existing.get(kc.fingerprint)
        if kc.status != "gap":
            if gap and gap.issue.state == "open" and close_covered and kc.match:
                actions.append(
                    GapAction(
                        act=Act.CLOSE,
                        kind=kc.kind,
                        fingerprint=kc.fingerprint,
                        issue=gap.issue,
                        coverage=kc,
                        reason=f"covered by '{kc.match.entry.title}'",
                    )
                )
            continue
        if gap is None:
            act, reason = (
                (Act.CREATE, "no entry and no issue")
                if budget > 0
                else (Act.HOLD, f"over the cap of {max_issues}")
            )
            budget -= act is Act.CREATE
            actions.append(
                GapAction(
                    act=act,
                    kind=kc.kind,
                    fingerprint=kc.fingerprint,
                    coverage=kc,
                    new_alerts=kc.alerts,
                    reason=reason,
                )
            )
            continue
        new = [a for a in kc.alerts if a.created_at > gap.marker.last]
        if gap.issue.state == "open":
            if new:
                actions.append(
                    GapAction(
                        act=Act.COMMENT,
                        kind=kc.kind,
                        fingerprint=kc.fingerprint,
                        issue=gap.issue,
                        coverage=kc,
                        new_alerts=new,
                        reason=f"{len(new)} new alert(s)",
                    )
                )
        elif gap.issue.state_reason == "not_planned":
            actions.append(
                GapAction(
                    act=Act.LEAVE,
                    kind=kc.kind,
                    fingerprint=kc.fingerprint,
                    issue=gap.issue,
                    coverage=kc,
                    reason="closed as not planned",
                )
            )
        elif new:
            act, reason = (
                (Act.REOPEN, "closed, still no entry, paged again")
                if budget > 0
                else (Act.HOLD, f"over the cap of {max_issues}")
            )
            budget -= act is Act.REOPEN
            actions.append(
                GapAction(
                    act=act,
                    kind=kc.kind,
                    fingerprint=kc.fingerprint,
                    issue=gap.issue,
                    coverage=kc,
                    new_alerts=new,
                    reason=reason,
                )
            )
    if close_covered:
        # Open gap issues whose kind did not page this time: check their sample against today's runbook.
        for fp, gap in existing.items():
            if fp in seen or gap.issue.state != "open":
                continue
            match = matcher.match(gap.marker.sample)
            if match is not None:
                actions.append(
                    GapAction(
                        act=Act.CLOSE,
                        kind=gap.marker.kind,
                        fingerprint=fp,
                        issue=gap.issue,
                        reason=f"covered by '{match.entry.title}'",
                    )
                )
    return actions
