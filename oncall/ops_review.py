"""ops-review's report: the week's findings, what their issues cost, and the pictures beside them.

Pure. The findings come from `oncall.alert_quality`, their issues from `oncall.ops_filing`, the
advocacy digest from `oncall.advocacy`; this module counts what the digest needs (the pages each
filed finding has cost since its issue was opened), draws the week's pages per day and by hour,
and renders the review for its three destinations: the Prefect artifact and the demo's file
(`escape.prefect_md`), the Slack post (`escape.slack`), and a Mermaid chart for each new issue's
body, which GitHub draws.

The cost is read from the alerts alone, so it needs no finding to cross its threshold again: an
issue's marker names its finding's fingerprint, and a fingerprint is its kind and subject. For
the kinds about one alert kind, the cost is that kind's pages since the issue was filed; for
sleep load, the sleep-hours pages of its rotation. Repeat incidents are incidents, not pages:
their issues are ranked by age. Alerts are read at most `COST_LOOKBACK` back, so an issue older
than that counts the pages of those days only.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from oncall import charts, escape
from oncall.advocacy import Digest, PagesSince
from oncall.advocacy import markdown as digest_markdown
from oncall.advocacy import slack_text as digest_slack
from oncall.clock import SleepHours, fmt_local, local
from oncall.findings import Finding, FindingKind, fingerprint
from oncall.handoff_render import SLACK_HEADER, slack_section
from oncall.kinds import alert_kind
from oncall.models import Alert, Frozen, TimeWindow

COST_LOOKBACK = timedelta(days=90)
SHOWN = 25  # findings the report lists; the rest are counted
SLACK_FINDINGS = 5

# The findings about one alert kind: their subject is the kind, their cost its pages.
BY_ALERT_KIND = (
    FindingKind.FLAPPING,
    FindingKind.NOISE,
    FindingKind.NOBODY_ACKED,
    FindingKind.RESOLVED_ITSELF,
    FindingKind.ESCALATION_MISS,
    FindingKind.P1_NO_INCIDENT,
)


def cost_start(windows: Mapping[str, datetime], window: TimeWindow) -> datetime:
    """Where the run's one alert read starts: the window's start, or earlier for the oldest open
    finding issue, but never more than `COST_LOOKBACK` before the window's end."""
    earliest = min([window.start, *windows.values()])
    return max(earliest, window.end - COST_LOOKBACK)


def pages_since(alerts: Iterable[Alert], *, tz: str, sleep: SleepHours, rotation: str) -> PagesSince:
    """The digest's cost function over the alerts read: one pass to index them, then each issue
    is a binary search."""
    times: dict[str, list[datetime]] = defaultdict(list)
    asleep: list[datetime] = []
    for a in alerts:
        times[alert_kind(a.message)].append(a.created_at)
        if sleep.contains(a.created_at, tz):
            asleep.append(a.created_at)
    by_fp = {fingerprint(k, kind): ts for kind, ts in times.items() for k in BY_ALERT_KIND}
    by_fp[fingerprint(FindingKind.SLEEP_LOAD, rotation)] = asleep
    for ts in by_fp.values():
        ts.sort()

    def count(fp: str, since: datetime) -> int:
        ts = by_fp.get(fp, [])
        return len(ts) - bisect.bisect_left(ts, since)

    return count


def _days(window: TimeWindow, tz: str) -> list[str]:
    day = local(window.start, tz).date()
    last = local(window.end - timedelta(microseconds=1), tz).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def per_day(alerts: Iterable[Alert], window: TimeWindow, tz: str) -> list[tuple[str, int]]:
    """Pages on each local day of the window, the quiet days too."""
    counts = Counter(
        local(a.created_at, tz).date().isoformat() for a in alerts if window.contains(a.created_at)
    )
    return [(day, counts.get(day, 0)) for day in _days(window, tz)]


def by_hour(alerts: Iterable[Alert], window: TimeWindow, tz: str) -> list[int]:
    """Pages by local hour of day, 00 to 23."""
    hours = [0] * 24
    for a in alerts:
        if window.contains(a.created_at):
            hours[local(a.created_at, tz).hour] += 1
    return hours


def finding_charts(
    findings: Iterable[Finding], alerts: Sequence[Alert], window: TimeWindow, tz: str
) -> dict[str, str]:
    """A Mermaid chart of its kind's pages per day for each finding about one alert kind: what a
    new issue's body shows, by fingerprint."""
    wanted = {f.subject: f for f in findings if f.kind in BY_ALERT_KIND}
    if not wanted:
        return {}
    mine: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        kind = alert_kind(a.message)
        if kind in wanted:
            mine[kind].append(a)
    out = {}
    for subject, finding in wanted.items():
        days = per_day(mine[subject], window, tz)
        out[finding.fingerprint] = charts.mermaid_xy(
            "Pages per day", [d[5:] for d, _ in days], [n for _, n in days], y_axis="pages"
        )
    return out


class Review(Frozen):
    """One run's review: what it found, what it did with each finding, and the digest."""

    window: TimeWindow
    tz: str
    alerts: int
    findings: tuple[Finding, ...]
    outcomes: dict[str, str] = Field(
        default_factory=dict
    )  # by fingerprint: "filed", "updated", "held: …", "would file"…
    links: dict[str, str] = Field(default_factory=dict)  # by fingerprint: the finding's issue
    per_day: tuple[tuple[str, int], ...] = ()
    by_hour: tuple[int, ...] = ()
    digest: Digest
    dry_run: bool = False


def _headline(r: Review) -> str:
    if not r.alerts:
        return "No alerts in the window: nothing to review, and nothing was filed."
    if not r.findings:
        return f"{r.alerts} alerts in the window, and no operational finding."
    done = Counter(o.split(":")[0] for o in r.outcomes.values())
    did = ", ".join(f"{n} {what}" for what, n in sorted(done.items())) or "nothing filed"
    return f"{r.alerts} alerts in the window; {len(r.findings)} findings ({did})."


def _finding_rows(r: Review) -> list[str]:
    rows = ["| Finding | Subject | Pages | What | Issue |", "|---|---|---:|---|---|"]
    for f in r.findings[:SHOWN]:
        fp = f.fingerprint
        issue = escape.prefect_link("issue", r.links[fp], 20) if fp in r.links else ""
        outcome = escape.prefect_md(r.outcomes.get(fp, ""), 80)
        rows.append(
            f"| {f.kind.value} | {escape.prefect_md(f.subject, 120)} | {f.pages} | "
            f"{escape.prefect_md(f.summary, 200)} | {' · '.join(x for x in (issue, outcome) if x)} |"
        )
    if len(r.findings) > SHOWN:
        rows.append(f"| …and {len(r.findings) - SHOWN} more | | | | |")
    return rows


def _pictures(r: Review) -> list[str]:
    if not r.alerts:
        return []
    days = [d for d, _ in r.per_day]
    counts = [n for _, n in r.per_day]
    out = [
        "## Pages",
        "",
        f"Per day: `{charts.sparkline(counts)}` ({', '.join(f'{d[5:]} {n}' for d, n in r.per_day)})",
        "",
        "| Day | Pages |",
        "|---|---:|",
        *(f"| {d} | {n} |" for d, n in zip(days, counts, strict=True)),
        "",
        "By hour of day:",
        "",
        *charts.bar_rows([f"{h:02d}" for h in range(24)], list(r.by_hour)),
        "",
    ]
    return out


def markdown(r: Review) -> str:
    """The review as a Prefect markdown artifact (and the demo's ops-review.md)."""
    head = [
        f"# {'Dry run: ' if r.dry_run else ''}Ops review {fmt_local(r.window.start, r.tz)} → "
        f"{fmt_local(r.window.end, r.tz)}",
        "",
        _headline(r),
        "",
    ]
    body = _pictures(r)
    if r.findings:
        body += [f"## Findings ({len(r.findings)})", "", *_finding_rows(r), ""]
    digest = digest_markdown(r.digest).split("\n", 1)[1]  # its own title becomes a section
    return "\n".join([*head, *body, "## Operational safety digest", digest.rstrip("\n"), ""])


def slack_payload(r: Review) -> dict[str, Any]:
    """An incoming-webhook payload: the headline, the top findings, the digest."""
    title = f"Ops review: week to {fmt_local(r.window.end, r.tz)}"
    top = [
        f"• *{f.kind.value}* {escape.slack(f.subject, 100)}: {escape.slack(f.summary, 200)}"
        + (f" ({escape.slack_link('issue', r.links[f.fingerprint], 10)})" if f.fingerprint in r.links else "")
        for f in r.findings[:SLACK_FINDINGS]
    ]
    more = (
        [f"…and {len(r.findings) - SLACK_FINDINGS} more in the report"]
        if len(r.findings) > SLACK_FINDINGS
        else []
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": escape.slack_plain(title, SLACK_HEADER)}},
        slack_section(_headline(r)),
    ]
    if r.alerts:
        blocks.append(slack_section(f"*Pages per day* `{charts.sparkline([n for _, n in r.per_day])}`"))
    if top:
        blocks.append(slack_section("\n".join(["*Top findings*", *top, *more])))
    blocks.append(slack_section(digest_slack(r.digest)))
    return {"text": escape.slack(f"{title}: {_headline(r)}", 300), "blocks": blocks}
