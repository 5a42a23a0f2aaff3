"""Operational findings as GitHub issues, through the one filing lifecycle (`oncall.filing`).

Pure. One issue per finding kind and subject: its marker carries the finding's fingerprint, so
next week's finding of the same problem is the same issue, whatever its wording. The evidence
is the finding's examples; the marker remembers the newest one reported (its time, and the ids
at that time, since several alerts can share a second), so an open issue gets a comment only
when an example is newer than any the issue has shown, a rerun of the same week says nothing,
and a closed-as-done issue whose problem pages again is reopened. A finding with no examples
has no evidence to add: it is filed once and then left to people.

The subject and the examples' titles come from anything that can fire an alert, so they land
escaped for GitHub (`escape.md` in bodies, `escape.plain` in titles) and cut after escaping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote

from pydantic import field_validator

from oncall import escape
from oncall.clock import fmt_local
from oncall.filing import Act, Filing, Found, Marker, Said, Update, Wanted, plan
from oncall.findings import Example, Finding, FindingKind
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.models import priority_label

EXAMPLES_SHOWN = 20
_IDS_KEPT = 20  # ids at the newest time the marker keeps: enough for a burst, small in the body

_TITLES = {
    FindingKind.FLAPPING: "Flapping alert",
    FindingKind.NOISE: "Noisy alert",
    FindingKind.NOBODY_ACKED: "Alert closed with nobody acking",
    FindingKind.RESOLVED_ITSELF: "Alert that resolves by itself",
    FindingKind.SLEEP_LOAD: "Sleep-hours pages",
    FindingKind.ESCALATION_MISS: "Escalation missed",
    FindingKind.P1_NO_INCIDENT: "P1 pages with no incident",
    FindingKind.REPEAT_INCIDENTS: "Repeat incidents",
    FindingKind.RUNBOOK_QUALITY: "Runbook quality",
}


class FindingMarker(Marker):
    """The finding's kind and fingerprint, and the newest example the issue has reported."""

    namespace: ClassVar[str] = "oncall-flows:ops-finding"

    kind: str
    fp: str
    last: datetime | None = None
    ids: tuple[str, ...] = ()  # the examples reported at `last`

    @field_validator("ids")
    @classmethod
    def _small(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(i[:100] for i in v[:_IDS_KEPT])  # the marker stays small whatever the alert ids

    @property
    def key(self) -> str:
        return self.fp


def _newest(examples: Iterable[Example]) -> tuple[datetime | None, tuple[str, ...]]:
    listed = list(examples)
    if not listed:
        return None, ()
    last = max(e.at for e in listed)
    return last, tuple(e.id for e in listed if e.at == last)


def _is_new(example: Example, last: datetime | None, ids: Sequence[str]) -> bool:
    return last is None or example.at > last or (example.at == last and example.id[:100] not in ids)


def reported(marker: FindingMarker, comments: Sequence[str]) -> tuple[datetime | None, tuple[str, ...]]:
    """The newest example already reported (time, ids at that time), from the body's marker and
    every update comment's: a rerun after a crash between the comment and the body edit knows
    what the comment said."""
    markers = [marker] + [
        m for text in comments for is_update, m in FindingMarker.read(text) if is_update and m.fp == marker.fp
    ]
    times = [m.last for m in markers if m.last is not None]
    if not times:
        return None, ()
    last = max(times)
    return last, tuple(dict.fromkeys(i for m in markers if m.last == last for i in m.ids))


def new_examples(finding: Finding, last: datetime | None, ids: Sequence[str]) -> list[Example]:
    """The finding's examples newer than what was reported, newest first (as the finding lists them)."""
    return [e for e in finding.examples if _is_new(e, last, ids)]


def marker_for(finding: Finding, examples: Iterable[Example] | None = None) -> FindingMarker:
    last, ids = _newest(finding.examples if examples is None else examples)
    return FindingMarker(kind=finding.kind.value, fp=finding.fingerprint, last=last, ids=ids)


def finding_title(finding: Finding) -> str:
    return escape.plain(f"{_TITLES[finding.kind]}: {finding.subject}", TITLE_LIMIT)


def _example_line(e: Example, tz: str) -> str:
    ref = escape.md(e.id, 60)
    link = (
        f"[{ref}]({quote(e.url, safe=':/?&=#%')})"
        if e.url and e.url.startswith(("https://", "http://"))
        else ref
    )
    return f"- {link} {priority_label(e.priority)} · {fmt_local(e.at, tz)} · {escape.md(e.title, 200)}"


def _evidence(finding: Finding) -> list[str]:
    return [
        f"- **{escape.md(name, 60)}:** {escape.md(str(value), 200)}"
        for name, value in finding.evidence.items()
    ]


def _examples(examples: Sequence[Example], tz: str) -> list[str]:
    lines = [_example_line(e, tz) for e in examples[:EXAMPLES_SHOWN]]
    if len(examples) > EXAMPLES_SHOWN:
        lines.append(f"- …and {len(examples) - EXAMPLES_SHOWN} more")
    return lines


def finding_body(finding: Finding, *, chart: str | None = None, tz: str = "UTC") -> str:
    """The issue's body: what was found, the counts behind it, the examples to click, and a
    chart made elsewhere (a Mermaid block, trusted, inserted as it is). The marker comes first,
    so the cut to GitHub's limit never drops it."""
    parts = [
        marker_for(finding).encode(),
        f"**{escape.md(finding.subject, 300)}**: {escape.md(finding.summary, 500)}.",
        "",
        f"- **Finding:** {finding.kind.value}",
        f"- **Pages in the window:** {finding.pages}",
        *_evidence(finding),
    ]
    if chart:
        parts += ["", chart.strip("\n")]
    if finding.examples:
        parts += ["", f"### Examples ({len(finding.examples)})", "", *_examples(finding.examples, tz)]
    parts += [
        "",
        "_Filed by oncall-flows ops-review. New examples are added here as a comment; closing it as "
        "done reopens it when it pages again, closing it as not planned stops that._",
    ]
    return escape.cut("\n".join(parts), BODY_LIMIT - 100, "\n\n…(cut to GitHub's limit)")


def update_comment(finding: Finding, examples: Sequence[Example], *, reopen: bool, tz: str) -> str:
    """The new examples only, under an update marker that records them."""
    verb = "Reopened: found again" if reopen else "Found again"
    lines = [
        marker_for(finding, examples).encode(update=True),
        f"{verb}, {escape.md(finding.summary, 500)}; {len(examples)} new example(s):",
        "",
        *_examples(examples, tz),
    ]
    return escape.cut("\n".join(lines), BODY_LIMIT - 100)


class FindingUpdate(Update):
    """The finding's examples that neither the body's marker nor any update comment has
    reported: at most one comment per run, and a rerun says nothing twice."""

    finding: Finding
    reopen: bool = False
    tz: str = "UTC"

    def unsaid(self, marker: Marker | None, comments: Sequence[str]) -> Said | None:
        assert isinstance(marker, FindingMarker)
        last, ids = reported(marker, comments)
        new = new_examples(self.finding, last, ids)
        if not new:
            return None
        newest, newest_ids = _newest(new)
        if newest == last:  # more examples at the same second: the ones reported there stay reported
            newest_ids = tuple(dict.fromkeys((*ids, *newest_ids)))
        return Said(
            comment=update_comment(self.finding, new, reopen=self.reopen, tz=self.tz),
            marker=FindingMarker(**{**marker.model_dump(), "last": newest, "ids": newest_ids}),
        )


def plan_findings(
    findings: Iterable[Finding],
    found: Mapping[str, Found[FindingMarker]],
    label: str,
    cap: int,
    *,
    charts: Mapping[str, str] | None = None,
    tz: str = "UTC",
) -> list[Filing]:
    """The filing steps for a run's findings, in the order given (most urgent first: the cap
    files those). `found` is the label's issues by marker (`index_issues(…, FindingMarker)`);
    `charts` are Mermaid blocks by fingerprint for new issues' bodies. Runbook quality is
    never filed here: runbook-gaps owns the runbook."""
    wanted: list[Wanted] = []
    seen: set[str] = set()
    for finding in findings:
        fp = finding.fingerprint
        if not finding.kind.fileable or fp in seen:
            continue
        seen.add(fp)
        existing = found.get(fp)
        repeat: Update | None = None
        if existing is not None and new_examples(finding, existing.marker.last, existing.marker.ids):
            repeat = FindingUpdate(finding=finding, reopen=existing.issue.state != "open", tz=tz)
        wanted.append(
            Wanted(
                key=fp,
                marker=FindingMarker,
                name=f"{finding.kind.value}: {escape.terminal(finding.subject, 120)}",
                title=finding_title(finding),
                body=finding_body(finding, chart=(charts or {}).get(fp), tz=tz) if existing is None else "",
                labels=(label,),
                repeat=repeat,
                reasons={
                    Act.CREATE: f"new finding: {finding.kind.value}",
                    Act.COMMENT: "new examples",
                    Act.REOPEN: "found again after it was closed as done",
                },
            )
        )
    return plan(wanted, found, cap=cap)
