"""The hand-off as a markdown report (Prefect artifact, out/ file) and as Slack blocks.

Every alert-derived string goes through `oncall.escape`, for where it lands: the markdown
report is a Prefect artifact (`prefect_md`, links by `prefect_link`), the Slack payload is
mrkdwn and plain_text. Each string's limit bounds it after escaping. Lists are cut to fit, and
the cut says "and N more", so a noisy week never produces a payload Slack rejects.

Tables are read in the Prefect UI at about 1400 px, where a wide cell pushes the columns after
it off-screen: each table starts with the numbers a responder reads first (counts; age and
owner), link texts are short (`#1101`), and the long text (kind, title) comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from oncall import escape
from oncall.charts import sparkline
from oncall.clock import fmt_duration, fmt_local
from oncall.findings import Finding
from oncall.handoff import HandoffSummary, KindStat
from oncall.handoff_coe import CoeNotes, IncidentCoe
from oncall.models import Alert, Incident, priority_label
from oncall.sre_requests import requests_markdown, requests_slack_line
from oncall.trends import compare, trend_markdown

MD_ROWS = 25
SLACK_ROWS = 10
SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_BLOCKS = 50


def _ref(a: Alert | Incident) -> str:
    """The alert's (or incident's) number, linked to it at its source."""
    return escape.prefect_link(f"#{a.tiny_id or a.id}", a.url, 40)


def _slack_ref(a: Alert | Incident) -> str:
    return escape.slack_link(f"#{a.tiny_id or a.id}", a.url, 40)


def _runbook_cell(k: KindStat) -> str:
    """A short link to the entry (its title is the kind's, near enough, and a long one pushed the
    kind off-screen), then what the entry lacks: the responder knows before clicking."""
    cell = (
        escape.prefect_link("entry", k.entry_link) if k.entry_link else escape.prefect_md(k.entry or "", 60)
    )
    return f"{cell} ({escape.prefect_md(', '.join(k.entry_flags), 60)})" if k.entry_flags else cell


def coverage_text(s: HandoffSummary) -> str | None:
    """The runbook coverage as a person reads it; "n/a" when nothing paged (a share of no kinds
    is no measure); None when no runbook was read."""
    if s.runbook_coverage is None:
        return None
    return f"{s.runbook_coverage:.0%}" if s.kinds else "n/a"


def _coe_text(c: IncidentCoe | None) -> str:
    """A COE in a few words: its status and how much is written; whether one is owed when none is
    tracked."""
    if c is None:
        return ""
    if c.link is None:
        return "needed, none yet" if c.needed else "not needed"
    return ", ".join(p for p in (c.status or "tracked", c.written) if p)


def _coe_cell(c: IncidentCoe | None) -> str:
    return escape.prefect_link(_coe_text(c), c.link if c is not None else None, 60)


def _actions_markdown(notes: CoeNotes) -> list[str]:
    out = ["", f"## Open corrective actions ({len(notes.open_actions)})", ""]
    if not notes.open_actions:
        return [*out, "No corrective action from an earlier COE is open."]
    rows = [
        [
            fmt_duration(a.age) if a.age is not None else "",
            escape.prefect_link(f"#{a.number}", a.url, 40),
            escape.prefect_md(a.incident_id, 60),
            escape.prefect_md(a.title, 100),
        ]
        for a in notes.open_actions[:MD_ROWS]
    ]
    return [
        *out,
        _table(["open for", "issue", "incident", "action"], rows, len(notes.open_actions), "actions"),
    ]


def _slack_age(age: timedelta | None) -> str:
    return f"{fmt_duration(age)} · " if age is not None else ""


def _acked_after(a: Alert) -> str:
    return fmt_duration(a.ack_after) if a.ack_after else "not acked"


def _table(header: list[str], rows: list[list[str]], total: int, noun: str) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if total > len(rows):
        lines.append(f"\n…and {total - len(rows)} more {noun}.")
    return "\n".join(lines)


def _trend_markdown(s: HandoffSummary) -> list[str]:
    """This shift beside the previous one, then the last shifts as trends; none before a second shift."""
    if len(s.trend) < 2:
        return []
    rows = [f"| {c.name} | {c.now} | {c.before} | {c.delta} |" for c in compare(s.trend[-1], s.trend[-2])]
    return [
        "",
        "## Compared with the previous shift",
        "",
        "| | This shift | Previous | Change |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"## Last {len(s.trend)} shifts",
        "",
        *trend_markdown(s.trend, s.context.timezone),
    ]


def _trend_slack(s: HandoffSummary) -> list[dict[str, Any]]:
    if len(s.trend) < 2:
        return []
    changes = {c.name: c for c in compare(s.trend[-1], s.trend[-2])}
    lines = [
        f"{name} `{sparkline(values)}` {changes[name].now} ({changes[name].delta} on the previous shift)"
        for name, values in (
            ("Alerts", [t.alerts for t in s.trend]),
            ("After hours", [t.after_hours for t in s.trend]),
            ("Sleep hours", [t.sleep for t in s.trend]),
        )
    ]
    return [slack_section(f"*Last {len(s.trend)} shifts*\n" + "\n".join(lines))]


FINDINGS_SHOWN = 3  # the hand-off names the worst few; ops-review files them


def _finding_line(f: Finding, esc: Callable[[str, int], str]) -> str:
    return f"{f.kind.value}: {esc(f.subject, 120)}, {esc(f.summary, 200)}"


def _findings_markdown(s: HandoffSummary) -> list[str]:
    if not s.findings:
        return []
    more = len(s.findings) - FINDINGS_SHOWN
    return [
        "",
        f"## Operational findings ({len(s.findings)})",
        "",
        *(f"- **{_finding_line(f, escape.prefect_md)}**" for f in s.findings[:FINDINGS_SHOWN]),
        *([f"- …and {more} more; the weekly ops-review files them as issues"] if more > 0 else []),
    ]


def _requests_markdown(s: HandoffSummary) -> list[str]:
    if s.requests_unread is not None:
        return [
            "",
            "## @SRE requests",
            "",
            f"Slack could not be read: {escape.prefect_md(s.requests_unread, 300)}",
        ]
    return requests_markdown(s.requests)


def _extras_slack(s: HandoffSummary) -> list[dict[str, Any]]:
    """The shift's worst operational findings and its @SRE requests, one short section."""
    lines = [f"• {_finding_line(f, escape.slack)}" for f in s.findings[:FINDINGS_SHOWN]]
    head = [f"*Operational findings ({len(s.findings)})*"] if lines else []
    if s.requests_unread is not None:
        asks = f"*@SRE requests:* Slack could not be read: {escape.slack(s.requests_unread, 200)}"
    else:
        asks = requests_slack_line(s.requests)
    return [slack_section("\n".join([*head, *lines, asks]))]


def _coverage_markdown(s: HandoffSummary) -> list[str]:
    coverage = coverage_text(s)
    if coverage is None:
        return []
    if not s.kinds:
        return ["- Runbook coverage: **n/a** (nothing paged)"]
    return [f"- Runbook coverage: **{coverage}** of the kinds that paged have an entry"]


def render_markdown(s: HandoffSummary) -> str:
    """The full report; tables hold the first rows, each list says how many it left out."""
    c = s.context
    tz = c.timezone
    end = c.window.end
    pri = " · ".join(f"{p} {n}" for p, n in s.by_priority.items() if n)
    if "priority" in c.missing:
        pri = f"priority not available from {c.source}"
    repeats = "" if "dedup count" in c.missing else f" ({s.occurrences} occurrences with repeats)"
    out = [
        f"# On-call hand-off: {escape.prefect_md(c.schedule, 150)}",
        "",
        f"**Shift:** {fmt_local(c.window.start, tz)} → {fmt_local(end, tz)} ({fmt_duration(c.window.length)})"
        f" · source: {c.source}",
        *[
            f"\n_Not available from {c.source}: {what} ({escape.prefect_md(why, 300)})._"
            for what, why in c.missing.items()
        ],
        "",
        f"- **Outgoing:** {escape.prefect_md(s.outgoing.names)}",
        f"- **Incoming:** {escape.prefect_md(s.incoming.names)}",
        "",
        "## Summary",
        "",
        f"- Alerts created: **{s.alerts}**{repeats}{' — ' + pri if pri else ''}",
        f"- After hours (outside business hours): **{s.after_hours}**",
        f"- Acknowledged: {s.acknowledged} · MTTA **{fmt_duration(s.mtta)}**",
        f"- Closed: {s.closed} · MTTR **{fmt_duration(s.mttr)}**",
        f"- Escalated: **{len(s.escalated)}** · still open: **{len(s.still_open)}** · incidents: **{len(s.incidents)}**",
        *_coverage_markdown(s),
        *_trend_markdown(s),
        *_findings_markdown(s),
        *_requests_markdown(s),
        "",
        f"## Noisiest alert kinds ({len(s.kinds)})",
        "",
    ]
    if s.kinds:
        known = s.runbook_coverage is not None
        header = ["alerts", "occurrences", "top", "open", "after hours", "latest"]
        header += ["runbook"] if known else []
        rows = [
            [
                str(k.alerts),
                str(k.occurrences),
                priority_label(k.top_priority),
                str(k.still_open),
                str(k.after_hours),
                _ref(k.sample),
                *([_runbook_cell(k) if k.entry else "**no runbook**"] if known else []),
                escape.prefect_md(k.kind, 120),
            ]
            for k in s.kinds[:MD_ROWS]
        ]
        out.append(_table([*header, "kind"], rows, len(s.kinds), "kinds"))
    else:
        out.append("Nothing paged during this shift.")
    out += ["", f"## Still open ({len(s.still_open)})", ""]
    if s.still_open:
        rows = [
            [
                fmt_duration(end - a.created_at),
                escape.prefect_md(a.owner or "unowned", 60),
                priority_label(a.priority),
                "yes" if a.acknowledged else "**no**",
                _ref(a),
                escape.prefect_md(a.message, 100),
            ]
            for a in s.still_open[:MD_ROWS]
        ]
        out.append(
            _table(
                ["age", "owner", "priority", "acked", "alert", "title"],
                rows,
                len(s.still_open),
                "open alerts",
            )
        )
    else:
        out.append("Nothing is open.")
    out += ["", f"## Escalated ({len(s.escalated)})", ""]
    if s.escalated:
        rows = [
            [
                fmt_duration(end - a.created_at),
                escape.prefect_md(a.owner or "unowned", 60),
                priority_label(a.priority),
                _acked_after(a),
                escape.prefect_md(a.acknowledged_by or "nobody", 60),
                _ref(a),
                escape.prefect_md(a.message, 100),
            ]
            for a in s.escalated[:MD_ROWS]
        ]
        out.append(
            _table(
                ["age", "owner", "priority", "acked after", "acked by", "alert", "title"],
                rows,
                len(s.escalated),
                "escalations",
            )
        )
    else:
        out.append(f"Every alert was acknowledged within {fmt_duration(c.escalation_after)}.")
    out += ["", f"## Incidents ({len(s.incidents)})", ""]
    if "incidents" in c.missing:
        out.append(
            f"Incidents are not available from {c.source}: {escape.prefect_md(c.missing['incidents'], 300)}"
        )
    elif s.incidents:
        coes = s.coe.incidents if s.coe is not None else None
        rows = [
            [
                fmt_duration(i.duration) if i.duration else "ongoing",
                i.status,
                priority_label(i.priority),
                fmt_local(i.start, tz),
                _ref(i),
                *([_coe_cell(coes.get(i.id))] if coes is not None else []),
                escape.prefect_md(i.message, 100),
            ]
            for i in s.incidents[:MD_ROWS]
        ]
        out.append(
            _table(
                [
                    "duration",
                    "status",
                    "priority",
                    "started",
                    "incident",
                    *(["COE"] if coes is not None else []),
                    "title",
                ],
                rows,
                len(s.incidents),
                "incidents",
            )
        )
    else:
        out.append("No incidents.")
    if s.coe is not None:
        if s.coe.problem:
            out += ["", f"COEs: {escape.prefect_md(s.coe.problem, 300)}"]
        out += _actions_markdown(s.coe)
    return "\n".join(out) + "\n"


def _lines_within(title: str, lines: Iterable[str], total: int, limit: int = SLACK_SECTION) -> str:
    """A mrkdwn section body of at most `limit` characters, ending in "…and N more" when cut."""
    text = f"*{title}*"
    shown = 0
    room_for_tail = len(f"\n…and {total} more")
    for line in lines:
        if len(text) + 1 + len(line) + room_for_tail > limit:
            break
        text += "\n" + line
        shown += 1
    if shown < total:
        text += f"\n…and {total - shown} more"
    return text if total else text + "\nnone"


def slack_section(text: str) -> dict[str, Any]:
    """One mrkdwn section block, cut to Slack's limit (every Slack message of the project builds on it)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": escape.cut(text, SLACK_SECTION)}}


def render_slack(s: HandoffSummary, report_url: str | None = None) -> dict[str, Any]:
    """An incoming-webhook payload: fallback text plus blocks inside Slack's limits."""
    c = s.context
    tz = c.timezone
    end = c.window.end
    fallback = (
        f"On-call hand-off for {escape.slack(c.schedule, 100)}: {s.alerts} alerts, "
        f"{len(s.still_open)} open, {len(s.incidents)} incidents"
    )
    pri = " · ".join(f"{p} {n}" for p, n in s.by_priority.items() if n) or "none"
    if "priority" in c.missing:
        pri = f"not available from {c.source}"
    repeats = "" if "dedup count" in c.missing else f" ({s.occurrences} occurrences)"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": escape.slack_plain(f"On-call hand-off: {c.schedule}", SLACK_HEADER),
            },
        },
        slack_section(
            f"*Shift* {fmt_local(c.window.start, tz)} → {fmt_local(end, tz)}\n"
            f"*Outgoing* {escape.slack(s.outgoing.names)}\n*Incoming* {escape.slack(s.incoming.names)}"
        ),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Alerts*\n{s.alerts}{repeats}"},
                {"type": "mrkdwn", "text": f"*By priority*\n{pri}"},
                {"type": "mrkdwn", "text": f"*After hours*\n{s.after_hours}"},
                {"type": "mrkdwn", "text": f"*MTTA / MTTR*\n{fmt_duration(s.mtta)} / {fmt_duration(s.mttr)}"},
            ],
        },
        *_trend_slack(s),
        *_extras_slack(s),
    ]
    known = s.runbook_coverage is not None
    kinds = [
        f"{k.occurrences}× {escape.slack(k.kind, 120)} ({priority_label(k.top_priority)}, latest "
        f"{_slack_ref(k.sample)})" + (" · no runbook" if known and not k.entry else "")
        for k in s.kinds[:SLACK_ROWS]
    ]
    title = f"Noisiest kinds (runbook coverage {coverage_text(s)})" if known else "Noisiest kinds"
    blocks.append(slack_section(_lines_within(title, kinds, len(s.kinds))))
    still = [
        f"{priority_label(a.priority)} {_slack_ref(a)} {escape.slack(a.message, 120)} · "
        f"{fmt_duration(end - a.created_at)} · "
        f"{escape.slack(a.owner or 'unowned', 60)}{'' if a.acknowledged else ' · *not acked*'}"
        for a in s.still_open[:SLACK_ROWS]
    ]
    blocks.append(slack_section(_lines_within(f"Still open ({len(s.still_open)})", still, len(s.still_open))))
    esc = [
        f"{priority_label(a.priority)} {_slack_ref(a)} {escape.slack(a.message, 120)} · "
        + (f"acked after {fmt_duration(a.ack_after)}" if a.ack_after else "*not acked*")
        for a in s.escalated[:SLACK_ROWS]
    ]
    blocks.append(slack_section(_lines_within(f"Escalated ({len(s.escalated)})", esc, len(s.escalated))))
    coes = s.coe.incidents if s.coe is not None else {}
    incs = [
        f"{priority_label(i.priority)} {_slack_ref(i)} {escape.slack(i.message, 120)} · {i.status} · "
        f"{fmt_duration(i.duration) if i.duration else 'ongoing'}"
        + (f" · COE: {escape.slack(_coe_text(coes[i.id]), 60)}" if i.id in coes else "")
        for i in s.incidents[:SLACK_ROWS]
    ]
    if "incidents" in c.missing:
        blocks.append(slack_section(f"*Incidents*\nnot available from {c.source}"))
    else:
        blocks.append(slack_section(_lines_within(f"Incidents ({len(s.incidents)})", incs, len(s.incidents))))
    if s.coe is not None and s.coe.open_actions:
        acts = [
            f"{_slack_age(a.age)}{escape.slack_link(f'#{a.number}', a.url, 20)} {escape.slack(a.title, 120)}"
            for a in s.coe.open_actions[:SLACK_ROWS]
        ]
        n = len(s.coe.open_actions)
        blocks.append(slack_section(_lines_within(f"Open corrective actions ({n})", acts, n)))
    context = f"Source: {c.source}"
    if c.missing:
        context += f" · not available: {', '.join(c.missing)}"
    if report_url:
        context += f" · <{report_url}|Full report>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": fallback, "blocks": blocks[:SLACK_BLOCKS]}
