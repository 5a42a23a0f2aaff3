"""The review meeting's agenda as a markdown report (Prefect artifact, out/ file) and as a Slack
payload, and the nudge and done messages.

Everything from the tracker and the documents (titles, names, headings, links) was typed by
people or copied from alerts, so it goes through `oncall.escape` for where it lands, as the
hand-off does: `prefect_md` and `prefect_link` for the report, `slack` and `slack_link` for
Slack. Mentions come only from configured Slack member ids, validated in `oncall.coe_review`.
Slack's limits (50 blocks, 3,000 characters a section, 150 a header) hold however many COEs
are open; a cut list says how many it left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall import escape
from oncall.clock import fmt_duration, fmt_local
from oncall.coe_review import Agenda, AgendaItem, CoeEntry, Nudge
from oncall.models import priority_label

SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_ITEMS = 40  # a section each, inside Slack's 50 blocks with the header and context
UNWRITTEN_SHOWN = 6


def _figure(item: AgendaItem) -> str:
    return item.completeness.figure if item.completeness is not None else "not read"


def _unwritten(item: AgendaItem) -> list[str]:
    c = item.completeness
    if c is None:
        return []
    return [f"{s.name} ({s.state.value})" for s in c.unwritten]


def _age(item: AgendaItem) -> str:
    return fmt_duration(item.age) if item.age is not None else "unknown"


def render_agenda_markdown(agenda: Agenda, tz: str) -> str:
    """The agenda: a table a reader scans (priority, age, completeness first), then per COE what
    is still unwritten and what to fix."""
    out = [
        f"# COE review: {fmt_local(agenda.meeting, tz)}",
        "",
        f"{len(agenda.items)} COE(s) to review, by priority, then oldest first.",
        "",
    ]
    if not agenda.items:
        return "\n".join([*out, "Nothing to review: every COE is done."]) + "\n"
    out += [
        "| # | priority | age | completeness | presenter | document | title |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, item in enumerate(agenda.items, 1):
        e = item.entry
        doc = escape.prefect_link("open", e.link) if e.doc_id else "no document"
        out.append(
            f"| {n} | {priority_label(e.priority)} | {_age(item)} | {_figure(item)} | "
            f"{escape.prefect_md(item.presenter, 80)} | {doc} | {escape.prefect_md(e.title, 120)} |"
        )
    for n, item in enumerate(agenda.items, 1):
        unwritten, problems = _unwritten(item), item.problems
        if not unwritten and not problems and not (item.completeness and item.completeness.extra):
            continue
        out += [
            "",
            f"## {n}. {escape.prefect_md(item.entry.incident_id, 60)}: {escape.prefect_md(item.entry.title, 150)}",
            "",
        ]
        if unwritten:
            out.append("- Still to write: " + escape.prefect_md(", ".join(unwritten), 600))
        if item.completeness and item.completeness.extra:
            out.append(
                "- Sections the template does not have: "
                + escape.prefect_md(", ".join(item.completeness.extra), 300)
            )
        out += [f"- To fix: {escape.prefect_md(p, 400)}" for p in problems]
    return "\n".join(out) + "\n"


def _slack_line(n: int, item: AgendaItem) -> str:
    e = item.entry
    doc = escape.slack_link(escape.cut(e.title, 100) or e.incident_id, e.link if e.doc_id else None, 110)
    line = (
        f"*{n}.* {priority_label(e.priority)} {doc} · {_age(item)} · {_figure(item)} · "
        f"presents: {escape.slack(item.presenter, 80)}"
    )
    unwritten = _unwritten(item)
    if unwritten:
        shown = ", ".join(unwritten[:UNWRITTEN_SHOWN]) + (
            f" and {len(unwritten) - UNWRITTEN_SHOWN} more" if len(unwritten) > UNWRITTEN_SHOWN else ""
        )
        line += f"\nStill to write: {escape.slack(shown, 600)}"
    if item.problems:
        line += f"\nTo fix: {escape.slack(item.problems[0], 400)}" + (
            f" (and {len(item.problems) - 1} more)" if len(item.problems) > 1 else ""
        )
    return escape.cut(line, SLACK_SECTION)


def render_agenda_slack(agenda: Agenda, tz: str, report_url: str | None = None) -> dict[str, Any]:
    """An incoming-webhook payload: a header, a section per COE (the first SLACK_ITEMS), and a
    context line with the count left out and the full report's link."""
    title = f"COE review {fmt_local(agenda.meeting, tz)}: {len(agenda.items)} COE(s)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": escape.slack_plain(title, SLACK_HEADER)}}
    ]
    for n, item in enumerate(agenda.items[:SLACK_ITEMS], 1):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _slack_line(n, item)}})
    if not agenda.items:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "Nothing to review: every COE is done."}}
        )
    context = []
    if len(agenda.items) > SLACK_ITEMS:
        context.append(f"…and {len(agenda.items) - SLACK_ITEMS} more in the full agenda")
    if report_url:
        context.append(escape.slack_link("Full agenda", report_url))
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    return {"text": escape.slack(title, 300), "blocks": blocks}


def render_nudge(nudge: Nudge, item: AgendaItem, meeting: datetime, tz: str) -> dict[str, Any]:
    """One nudge for the team channel: the COE, what is unwritten, and its presenter, mentioned
    only through a configured member id."""
    e = item.entry
    who = [f"<@{m}>" for m in nudge.mentions] + [escape.slack(n, 80) for n in nudge.unnamed]
    doc = escape.slack_link(escape.cut(e.title, 100) or e.incident_id, e.link if e.doc_id else None, 110)
    unwritten = ", ".join(_unwritten(item)[:UNWRITTEN_SHOWN])
    text = escape.cut(
        f"COE {doc} is {_figure(item)} written, {_age(item)} after the incident. "
        f"{', '.join(who) or 'Nobody is on record as presenter'}: please write "
        f"{escape.slack(unwritten, 600) or 'the rest'} before the review on {fmt_local(meeting, tz)}.",
        SLACK_SECTION,
    )
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def render_done(entry: CoeEntry) -> dict[str, Any]:
    """The team is told once that a COE is done: every action is closed and it is written."""
    doc = escape.slack_link(
        escape.cut(entry.title, 100) or entry.incident_id, entry.link if entry.doc_id else None, 110
    )
    text = f"COE {doc} is done: every section is written and every corrective action is closed."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
