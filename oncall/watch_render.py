"""incident-watch's report: what a run read, what it found, and which events it emitted.

A watch run is otherwise silent: it emits events that start coe-prep, and a person looking at
the Prefect UI cannot tell whether it saw an incident, found it too short, or missed it. The
report (a Prefect artifact) says where the window began and why (the watermark, or
`lookback_minutes` on a first run, or a 7-day look back when the watermark cannot be trusted),
then lists each closed incident with what the run did about it, the action first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oncall import escape
from oncall.clock import fmt_duration, fmt_local
from oncall.models import Alert, Incident, priority_label
from oncall.watch import CoeCandidate, WatchStart

ROWS = 50


def start_reason(start: WatchStart, stored: object, lookback_minutes: int, variable: str) -> str:
    """Why the window begins where it does, in one sentence (for the log and the report)."""
    since = start.since.isoformat()
    if start.problem:
        return (
            f"the watermark is not used ({start.problem}); looking back to {since}, past "
            f"lookback_minutes ({lookback_minutes}), so that nothing which closed meanwhile is missed"
        )
    if stored is None or stored == "":
        return (
            f"no watermark yet (the {variable} Variable): this first run looks back "
            f"lookback_minutes ({lookback_minutes}), to {since}"
        )
    return (
        f"starting at the watermark {since}, where the last successful run ended; "
        f"lookback_minutes ({lookback_minutes}) is not used once a watermark exists, so that "
        "runs neither miss nor repeat the time between them"
    )


def _action(emitted: bool, dry_run: bool) -> str:
    if dry_run:
        return "would emit (dry run)"
    return "emitted" if emitted else "**not sent** (events off)"


def watch_markdown(
    *,
    since: datetime,
    until: datetime,
    reason: str,
    threshold: timedelta,
    incidents: list[Incident],
    alerts: list[Alert],
    candidates: list[CoeCandidate],
    emitted: set[str],
    dry_run: bool,
    event: str,
    timezone: str = "UTC",
) -> str:
    """The run's report: its window and why, then each closed incident (and each alert that
    stands in for one) with what the run did: emitted, would emit, or under the threshold."""
    chosen = {c.incident_id: c for c in candidates}
    rows: list[list[str]] = []
    for c in candidates:
        inc = next((i for i in incidents if i.id == c.incident_id), None)
        ref = escape.prefect_link(f"#{inc.tiny_id or inc.id}", inc.url, 40) if inc else c.kind
        rows.append(
            [
                _action(c.incident_id in emitted, dry_run),
                f"{c.duration_minutes:g} min",
                escape.prefect_md(c.priority, 10),
                ref,
                escape.prefect_md(c.incident_id, 80),
                escape.prefect_md(c.title, 100),
            ]
        )
    for inc in incidents:
        if inc.id in chosen:
            continue
        rows.append(
            [
                f"under {fmt_duration(threshold)}" if inc.duration is not None else "no end time",
                fmt_duration(inc.duration) if inc.duration is not None else "—",
                priority_label(inc.priority),
                escape.prefect_link(f"#{inc.tiny_id or inc.id}", inc.url, 40),
                escape.prefect_md(inc.id, 80),
                escape.prefect_md(inc.message, 100),
            ]
        )
    verb = "would emit" if dry_run else "emitted"
    out = [
        "# Incident watch",
        "",
        f"**Window:** {fmt_local(since, timezone)} → {fmt_local(until, timezone)}: {escape.prefect_md(reason, 600)}.",
        "",
        f"- Closed incidents found: **{len(incidents)}**"
        + (f" · closed P1/P2 alerts read: **{len(alerts)}**" if alerts else ""),
        f"- COE threshold: {fmt_duration(threshold)}",
        f"- Events {verb} (`{event}`, each starts coe-prep): **{len(candidates)}**",
        "",
    ]
    if rows:
        out += [
            "| COE event | duration | priority | incident | id | title |",
            "|---|---|---|---|---|---|",
            *("| " + " | ".join(r) + " |" for r in rows[:ROWS]),
        ]
        if len(rows) > ROWS:
            out.append(f"\n…and {len(rows) - ROWS} more.")
    else:
        out.append("Nothing closed in this window.")
    if dry_run:
        out += ["", "_Dry run: no event was emitted and the watermark was kept._"]
    return "\n".join(out) + "\n"
