"""The advocacy digest: every open operational-safety issue, with what it has cost, so the
on-call engineer can argue for it to be resourced.

Pure. Every open issue with the label is listed, people's own too: its age and the days since
its last activity, whether it is new this week. For an issue ops-review filed (its
`FindingMarker` names the finding), the caller counts the pages that finding caused since the
issue was opened (`pages_since(fp, created_at)`; `cost_windows` says which fingerprints and from
when), so the digest can say "this has cost 37 pages since it was filed". A hand-filed issue
has no finding behind it, so no cost: it is ranked by its age alone. Every age is counted at
`now`, never the wall clock, so a digest for a past week reads as it did then.

Three renderings: a Prefect markdown artifact (`escape.prefect_md`), Slack text (`escape.slack`,
within one section block), and the body of one tracking issue (GitHub markdown), known by its
own marker and edited in place each week rather than filed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import ClassVar

from oncall import escape
from oncall.filing import Marker, index_issues
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.handoff_render import SLACK_SECTION
from oncall.models import Frozen, IssueRef
from oncall.ops_filing import FindingMarker

DEFAULT_LABEL = "operational-safety"
COSTLIEST = 5  # rows the digest names with their cost in a sentence
SLACK_ROWS = 10

PagesSince = Callable[[str, datetime], int]
"""Pages the finding with this fingerprint caused from this time (the issue's creation) to now."""


class DigestMarker(Marker):
    """The tracking issue of one label's digest."""

    namespace: ClassVar[str] = "oncall-flows:ops-digest"

    label: str

    @property
    def key(self) -> str:
        return self.label


def tracking_marker(label: str = DEFAULT_LABEL) -> DigestMarker:
    return DigestMarker(label=label)


def tracking_issue(issues: Iterable[IssueRef], label: str = DEFAULT_LABEL) -> IssueRef | None:
    """The one tracking issue to edit in place: found by its marker, the open, lowest-numbered
    one if a person copied it; a closed one is still it (the caller may reopen it)."""
    found = index_issues(issues, DigestMarker).get(tracking_marker(label).key)
    return found.issue if found is not None else None


def tracking_title(label: str = DEFAULT_LABEL) -> str:
    return escape.plain(f"Operational safety digest: open {label} issues", TITLE_LIMIT)


class DigestRow(Frozen):
    issue: IssueRef
    age_days: int | None  # None: GitHub gave no creation time
    idle_days: int | None  # days since its last activity
    new: bool  # opened this week
    kind: str | None = None  # the finding behind it, for an issue ops-review filed
    pages: int | None = None  # pages that finding caused since the issue was opened; None: no finding

    @property
    def cost(self) -> int:
        return self.pages or 0


class Digest(Frozen):
    label: str
    now: datetime
    week_start: datetime
    rows: tuple[DigestRow, ...]  # most costly first, then oldest
    closed: tuple[IssueRef, ...]  # closed this week

    @property
    def opened(self) -> int:
        return sum(r.new for r in self.rows)


def _days(now: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, (now - then) // timedelta(days=1))


def _mine(issue: IssueRef) -> bool:
    """The tracking issue carries the label too, but is no operational-safety problem."""
    return bool(DigestMarker.read(issue.body))


def cost_windows(open_issues: Iterable[IssueRef]) -> dict[str, datetime]:
    """The fingerprints whose pages the digest needs, each from the earliest issue filed for it:
    what the caller must count before calling `digest`."""
    out: dict[str, datetime] = {}
    for issue in open_issues:
        marker = FindingMarker.first(issue.body)
        if marker is not None and issue.created_at is not None:
            out[marker.fp] = min(out.get(marker.fp, issue.created_at), issue.created_at)
    return out


def _row(issue: IssueRef, now: datetime, week_start: datetime, pages_since: PagesSince) -> DigestRow:
    marker = FindingMarker.first(issue.body)
    pages = None
    if marker is not None and issue.created_at is not None:
        pages = pages_since(marker.fp, issue.created_at)
    return DigestRow(
        issue=issue,
        age_days=_days(now, issue.created_at),
        idle_days=_days(now, issue.updated_at or issue.created_at),
        new=issue.created_at is not None and issue.created_at >= week_start,
        kind=marker.kind if marker is not None else None,
        pages=pages,
    )


def digest(
    open_issues: Iterable[IssueRef],
    closed_this_week: Iterable[IssueRef],
    *,
    now: datetime,
    week_start: datetime,
    pages_since: PagesSince,
    label: str = DEFAULT_LABEL,
) -> Digest:
    """Every open issue of the label (pull requests and the tracking issue aside), ranked by the
    pages it has cost, then by age; and the issues closed since `week_start`."""
    rows = [
        _row(i, now, week_start, pages_since)
        for i in open_issues
        if i.state == "open" and not i.is_pull_request and not _mine(i)
    ]
    rows.sort(key=lambda r: (-r.cost, -(r.age_days if r.age_days is not None else -1), r.issue.number))
    closed = tuple(
        i
        for i in closed_this_week
        if i.state == "closed"
        and not i.is_pull_request
        and not _mine(i)
        and i.closed_at is not None
        and week_start <= i.closed_at <= now
    )
    return Digest(label=label, now=now, week_start=week_start, rows=tuple(rows), closed=closed)


def _pages(n: int) -> str:
    return f"{n} page{'' if n == 1 else 's'}"


def _age(days: int | None) -> str:
    return "—" if days is None else f"{days} d"


def _cost_sentence(row: DigestRow) -> str:
    ago = f" {row.age_days} days ago" if row.age_days is not None else ""
    return f"this has cost {_pages(row.cost)} since it was filed{ago}"


def _headline(d: Digest) -> str:
    return (
        f"Open: **{len(d.rows)}** (new this week: {d.opened}). Closed this week: **{len(d.closed)}**. "
        f"Week from {d.week_start:%Y-%m-%d} to {d.now:%Y-%m-%d}."
    )


def _empty(d: Digest, esc: Callable[[str, int], str]) -> str:
    return f"No open {esc(d.label, 100)} issues."


def _sections(d: Digest, esc: Callable[[str, int], str], link: Callable[[IssueRef], str]) -> list[str]:
    """The costliest, every open issue and the ones closed this week: the artifact's and the
    tracking issue's one body, each escaped and linked for where it lands."""
    out = [] if d.rows else [_empty(d, esc)]
    costly = [r for r in d.rows if r.cost][:COSTLIEST]
    if costly:
        out += ["## Costliest", ""]
        out += [f"- {link(r.issue)} {esc(r.issue.title, 200)}: {_cost_sentence(r)}." for r in costly]
        out.append("")
    if d.rows:
        out += [
            "## Open issues",
            "",
            "| issue | pages since filed | age | idle | new | finding | title |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in d.rows:
            pages = str(r.pages) if r.pages is not None else "— (filed by hand)"
            out.append(
                f"| {link(r.issue)} | {pages} | {_age(r.age_days)} | {_age(r.idle_days)} | "
                f"{'new' if r.new else ''} | {r.kind or '—'} | {esc(r.issue.title, 200)} |"
            )
    if d.closed:
        out += ["", f"## Closed this week ({len(d.closed)})", ""]
        out += [f"- {link(i)} {esc(i.title, 200)}" for i in d.closed]
    return out


def markdown(d: Digest) -> str:
    """The digest as a Prefect markdown artifact (and the same report as a file)."""

    def link(issue: IssueRef) -> str:
        return escape.prefect_link(f"#{issue.number}", issue.html_url, 20)

    head = [
        "# Operational safety digest",
        "",
        f"Label: {escape.prefect_md(d.label, 100)}. " + _headline(d),
        "",
    ]
    return "\n".join([*head, *_sections(d, escape.prefect_md, link)]) + "\n"


def slack_text(d: Digest) -> str:
    """Short Slack mrkdwn for one section block: the counts and the costliest, oldest rows; rows
    that would pass Slack's limit are left for the linked digest, never cut mid-link."""
    head = (
        f"*Operational safety digest* ({escape.slack(d.label, 60)}): {len(d.rows)} open, "
        f"{d.opened} new, {len(d.closed)} closed this week"
    )
    if not d.rows:
        return escape.cut(f"{head}\n{_empty(d, escape.slack)}", SLACK_SECTION)
    lines = [head]
    for n, r in enumerate(d.rows[:SLACK_ROWS]):
        cost = f"{_cost_sentence(r)} · " if r.cost else ""
        line = (
            f"• {escape.slack_link(f'#{r.issue.number} {r.issue.title}', r.issue.html_url, 80)} · {cost}"
            f"{_age(r.age_days)} old · idle {_age(r.idle_days)}"
        )
        rest = len(d.rows) - n
        if len("\n".join([*lines, line])) + len(f"\n…and {rest} more") > SLACK_SECTION:
            lines.append(f"…and {rest} more")
            return "\n".join(lines)
        lines.append(line)
    if len(d.rows) > SLACK_ROWS:
        lines.append(f"…and {len(d.rows) - SLACK_ROWS} more")
    return "\n".join(lines)


def tracking_body(d: Digest) -> str:
    """The tracking issue's body, rewritten each week: its marker first (so the cut to GitHub's
    limit keeps it), then the report. The issue numbers are ours and link as `#12`; the titles
    are escaped."""
    out = [
        tracking_marker(d.label).encode(),
        "Label: `" + escape.cut(d.label.replace("`", "'"), 100) + "`. " + _headline(d),
        "",
        *_sections(d, escape.md, lambda i: f"#{i.number}"),
        "",
        "_Rewritten each week by oncall-flows ops-review; edits here are replaced._",
    ]
    return escape.cut("\n".join(out), BODY_LIMIT - 100, "\n\n…(cut to GitHub's limit)")
