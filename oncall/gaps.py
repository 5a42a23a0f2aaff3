"""runbook-gaps, decided: which alert kinds lack an entry, and what to do on GitHub about it.

Pure. `assess_coverage` matches every alert of the window against the runbook and groups
them by kind; `plan_gap_actions` compares that with the existing gap issues (found by the
fingerprint marker hidden in their body) and returns the writes to make; what happens to an
issue that exists (comment, reopen, leave, hold over the cap) is `oncall.filing`'s lifecycle,
shared with every flow that files. Applying them is the flow's job, and every write there
looks for its marker first.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from oncall.coverage import Match, Matcher
from oncall.errors import InputError
from oncall.filing import Act as Act
from oncall.filing import Found, Marker, Planner, index_issues
from oncall.kinds import alert_kind
from oncall.links import LinkCheck, LinkStatus
from oncall.models import Alert, IssueRef, Priority, priority_rank
from oncall.runbook import Runbook, RunbookEntry

MARKER = "oncall-flows:runbook-gap"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


def fingerprint(kind: str) -> str:
    """Stable id of a kind: the key that makes filing idempotent across runs and machines."""
    return hashlib.sha256(kind.encode("utf-8")).hexdigest()[:16]


def link_fingerprint(kind: str) -> str:
    """The id of a kind's broken-link issue: its own space, so it never meets the kind's gap issue."""
    return fingerprint(f"broken-link\0{kind}")


class GapMarker(Marker):
    """What a gap issue remembers, hidden in its body: the kind, a sample title, the newest alert reported."""

    namespace: ClassVar[str] = MARKER
    fp: str
    kind: str
    sample: str
    last: datetime
    link: str | None = None  # set on a broken-link issue: the URL that did not resolve

    @field_validator("kind", "sample")
    @classmethod
    def _short(cls, v: str) -> str:
        return v[:500]  # the marker must stay small whatever the alert text

    @field_validator("link")
    @classmethod
    def _short_link(cls, v: str | None) -> str | None:
        return v[:500] if v else v

    @property
    def key(self) -> str:
        return self.fp


def read_markers(text: str) -> list[tuple[bool, GapMarker]]:
    """Every marker in `text` as (is_update, marker); unreadable ones are ignored."""
    return GapMarker.read(text)


def with_marker(body: str, marker: GapMarker) -> str:
    """`body` with its (non-update) marker replaced, so the next run compares against `marker.last`."""
    return marker.put(body)


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
    link: LinkCheck | None = None  # the sample's runbook link, checked; when present it decides

    @property
    def status(self) -> str:
        """covered | partial | gap | broken-link (filed) | unverified-link (shown, never filed)."""
        if self.link is not None:
            return {
                LinkStatus.OK: "covered",
                LinkStatus.BROKEN: "broken-link",
                LinkStatus.UNVERIFIED: "unverified-link",
            }[self.link.status]
        if self.covered == len(self.alerts):
            return "covered"
        return "partial" if self.covered else "gap"

    @property
    def entry(self) -> RunbookEntry | None:
        """The entry that covers the kind: the link's when a link decided, else the heading match's.
        A link to a page outside the runbook covers with no entry."""
        if self.link is not None:
            return self.link.entry if self.link.status is LinkStatus.OK else None
        return self.match.entry if self.match else None

    @property
    def issue_fingerprint(self) -> str:
        """The fingerprint of the issue this kind's status files: a broken link's, or the gap's."""
        return link_fingerprint(self.kind) if self.status == "broken-link" else self.fingerprint

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


def attach_links(
    coverage: list[KindCoverage], urls: Mapping[str, str], checks: Mapping[str, LinkCheck]
) -> list[KindCoverage]:
    """Coverage with each kind's runbook link: `urls` maps a sample alert's id to the link it
    carries, `checks` a link to what checking it found. A kind whose sample has none, or whose
    link went unchecked, keeps heading matching."""
    out = []
    for kc in coverage:
        url = urls.get(kc.sample.id)
        check = checks.get(url) if url else None
        out.append(kc.model_copy(update={"link": check}) if check else kc)
    return out


class GapAction(_Frozen):
    act: Act
    kind: str
    fingerprint: str
    reason: str
    issue: IssueRef | None = None
    coverage: KindCoverage | None = None
    new_alerts: list[Alert] = []


ExistingGap = Found[GapMarker]


def index_gap_issues(issues: list[IssueRef]) -> dict[str, ExistingGap]:
    """Gap issues by fingerprint. Of duplicates (a person copied one), the open, lowest-numbered wins."""
    return index_issues(issues, GapMarker)


@dataclass(frozen=True)
class _GapWant:
    """A gap (or broken link) as the filing lifecycle sees it: its key, and whether it paged
    since its issue last said."""

    key: str
    status: str
    new: int

    @property
    def news(self) -> bool:
        return self.new > 0

    def reason(self, act: Act) -> str:
        if act is Act.CREATE:
            return "no entry and no issue" if self.status == "gap" else "broken link and no issue"
        if act is Act.REOPEN:
            return f"closed, still {'no entry' if self.status == 'gap' else 'a broken link'}, paged again"
        return f"{self.new} new alert(s)"


def _close(kc: KindCoverage, fp: str, gap: ExistingGap, reason: str) -> GapAction:
    return GapAction(act=Act.CLOSE, kind=kc.kind, fingerprint=fp, issue=gap.issue, coverage=kc, reason=reason)


def _covered_reason(kc: KindCoverage) -> str:
    if kc.link is not None:
        where = f"'{kc.link.entry.title}'" if kc.link.entry else kc.link.url
        return f"the alert's runbook link resolves to {where}"
    assert kc.match is not None
    return f"covered by '{kc.match.entry.title}'"


def plan_gap_actions(
    coverage: list[KindCoverage],
    existing: dict[str, ExistingGap],
    matcher: Matcher,
    *,
    max_issues: int,
    close_covered: bool = False,
) -> list[GapAction]:
    """The writes to make: create, comment, reopen or close, never more than `max_issues` new or reopened.

    A gap and a broken runbook link are filed alike, each under its own fingerprint; an
    unverified link is shown and never filed. A kind covered again closes (when asked) both."""
    actions: list[GapAction] = []
    planner = Planner(max_issues)
    seen: set[str] = set()
    for kc in coverage:
        seen |= {kc.fingerprint, link_fingerprint(kc.kind)}
        status = kc.status
        if status not in ("gap", "broken-link"):
            covered = status == "covered" if kc.link is not None else kc.match is not None
            if close_covered and covered:
                # A link that resolves fixes a broken-link issue too; a heading match alone does not.
                fps = [kc.fingerprint, link_fingerprint(kc.kind)] if kc.link else [kc.fingerprint]
                for fp in fps:
                    gap = existing.get(fp)
                    if gap and gap.issue.state == "open":
                        actions.append(_close(kc, fp, gap, _covered_reason(kc)))
            continue
        fp = kc.issue_fingerprint
        gap = existing.get(fp)
        new = kc.alerts if gap is None else [a for a in kc.alerts if a.created_at > gap.marker.last]
        step = planner.step(_GapWant(key=fp, status=status, new=len(new)), gap.issue if gap else None)
        if step is not None:
            actions.append(
                GapAction(
                    act=step.act,
                    kind=kc.kind,
                    fingerprint=fp,
                    issue=step.issue,
                    coverage=kc,
                    new_alerts=[] if step.act is Act.LEAVE else new,
                    reason=step.reason,
                )
            )
    if close_covered:
        # Open gap issues whose kind did not page this time: check their sample against today's
        # runbook. A broken-link issue needs its alert's link checked, so it waits for a page.
        for fp, gap in existing.items():
            if fp in seen or gap.issue.state != "open" or gap.marker.link is not None:
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


MISREAD_SHARE, MISREAD_KINDS, MISREAD_ENTRIES = 0.9, 10, 20


def check_misread(coverage: list[KindCoverage], runbook: Runbook, *, force: bool = False) -> None:
    """Stop before filing when nearly every kind is a gap against a sizeable runbook.

    A runbook of 20 entries that covers under a tenth of 10 or more kinds was far more likely
    read in the wrong layout than left that empty, and the run would file an issue per kind."""
    gaps = sum(kc.status == "gap" for kc in coverage)
    if force or len(coverage) < MISREAD_KINDS or len(runbook.entries) < MISREAD_ENTRIES:
        return
    if gaps < MISREAD_SHARE * len(coverage):
        return
    raise InputError(
        f"runbook {runbook.source} was read as layout {runbook.layout.value!r} with "
        f"{len(runbook.entries)} entries, yet {gaps} of {len(coverage)} alert kinds match none of them, "
        "so it was probably misread and nothing was filed: check that the runbook setting "
        "(ONCALL_RUNBOOK or the runbook parameter) names the right file or folder and that its layout "
        "is the one found (`oncall runbook check RUNBOOK` lists the entries read); "
        "run with force=True to file anyway"
    )
