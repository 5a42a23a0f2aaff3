"""Text that runbook-gaps writes: issue bodies, update comments, and the coverage report.

Alert text is untrusted: in GitHub text it lands escaped (no @-mention pings, no issue
references, no HTML, no markdown breakout) and everything is cut to GitHub's 65,536-character
body limit. The coverage report is a Prefect artifact (and coverage.md), so it gets the Prefect
UI's escaping: no HTML or markdown breakout, and mentions as typed, since nobody is notified.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import quote

from oncall import escape
from oncall.clock import fmt_local
from oncall.coverage import likely_product
from oncall.gaps import Act, GapAction, GapMarker, KindCoverage
from oncall.models import Alert, priority_label
from oncall.runbook import Runbook

BODY_LIMIT = 65_536
TITLE_LIMIT = 256
LINKS = 20


def issue_title(kind: str) -> str:
    return escape.plain(f"Runbook gap: {kind}", TITLE_LIMIT)


def _alert_line(a: Alert, tz: str) -> str:
    ref = escape.md(f"#{a.tiny_id or a.id}", 40)
    link = f"[{ref}]({quote(a.url, safe=':/?&=#%')})" if a.url else ref
    return f"- {link} {priority_label(a.priority)} · {fmt_local(a.created_at, tz)} · ×{a.count} · {escape.md(a.message, 200)}"


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside, so alert text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def entry_skeleton(kc: KindCoverage, runbook: Runbook) -> str:
    """A ready-to-paste entry in the runbook's own heading level and section style."""
    sample = escape.plain(kc.sample.message, 300).replace('"', "'")
    marker = runbook.section_marker
    return (
        f"{'#' * runbook.entry_level} {escape.plain(kc.kind, 200)}\n\n"
        f"{marker.format('Diagnosis')}\n\n"
        f'You get an alert like "{sample}".\n\n'
        "TODO: how to tell what is wrong: dashboards, logs, commands.\n\n"
        f"{marker.format('Mitigation')}\n\n"
        "TODO: what fixed it, step by step.\n"
    )


def issue_body(kc: KindCoverage, runbook: Runbook, tz: str) -> str:
    marker = GapMarker(
        fp=kc.fingerprint, kind=kc.kind, sample=kc.sample.message, last=kc.alerts[-1].created_at
    )
    priorities = Counter(priority_label(a.priority) for a in kc.alerts)
    product = likely_product(runbook, kc.sample.message)
    skeleton = entry_skeleton(kc, runbook)
    fence = _fence(skeleton)
    description = kc.sample.description or ""
    parts = [
        marker.encode(),
        f"Alerts of this kind paged **{len(kc.alerts)}** time(s) ({kc.occurrences} occurrences) with no entry "
        f"in the runbook ({escape.md(runbook.source, 200)}).",
        "",
        f"- **Kind:** {escape.md(kc.kind, 300)}",
        f"- **First seen:** {fmt_local(kc.alerts[0].created_at, tz)}",
        f"- **Last seen:** {fmt_local(kc.alerts[-1].created_at, tz)}",
        f"- **Priorities:** {', '.join(f'{p} ×{n}' for p, n in sorted(priorities.items()))}",
        f"- **Likely product heading:** {escape.md(product) if product else 'none matched; pick one'}",
        "",
        "### Sample alert",
        "",
        f"> {escape.md(kc.sample.message, 500)}",
    ]
    if description:
        parts += [">", f"> {escape.md(description, 1500)}"]
    parts += ["", f"### Alerts ({len(kc.alerts)})", ""]
    parts += [_alert_line(a, tz) for a in kc.alerts[-LINKS:]]
    if len(kc.alerts) > LINKS:
        parts.append(f"- …and {len(kc.alerts) - LINKS} earlier")
    parts += [
        "",
        "### Entry skeleton",
        "",
        f"Paste under **{escape.md(product) if product else 'its product heading'}** and fill in what fixed it:",
        "",
        f"{fence}markdown",
        skeleton.rstrip("\n"),
        fence,
        "",
        "_Filed by oncall-flows runbook-gaps. Closing it as not planned stops it from being reopened._",
    ]
    return escape.cut("\n".join(parts), BODY_LIMIT - 100, "\n\n…(cut to GitHub's limit)")


def update_comment(action: GapAction, tz: str) -> str:
    assert action.coverage is not None
    kc = action.coverage
    marker = GapMarker(
        fp=kc.fingerprint, kind=kc.kind, sample=kc.sample.message, last=action.new_alerts[-1].created_at
    )
    verb = "Reopened: still no runbook entry, and it" if action.act is Act.REOPEN else "It"
    lines = [marker.encode(update=True), f"{verb} paged {len(action.new_alerts)} more time(s):", ""]
    lines += [_alert_line(a, tz) for a in action.new_alerts[-LINKS:]]
    if len(action.new_alerts) > LINKS:
        lines.append(f"- …and {len(action.new_alerts) - LINKS} earlier")
    return escape.cut("\n".join(lines), BODY_LIMIT - 100)


CLOSE_MARKER = "<!-- oncall-flows:runbook-gap-close -->"


def close_comment(action: GapAction) -> str:
    return f"{CLOSE_MARKER}\nClosing: the runbook now has an entry for this kind ({escape.md(action.reason, 300)})."


def coverage_rows(
    coverage: list[KindCoverage], runbook: Runbook, links: dict[str, str]
) -> list[dict[str, str]]:
    """One row per kind for the table artifact and coverage.md."""
    rows = []
    for kc in coverage:
        entry = kc.match.entry if kc.match else None
        rows.append(
            {
                "kind": kc.kind,
                "alerts": str(len(kc.alerts)),
                "occurrences": str(kc.occurrences),
                "status": kc.status,
                "entry": entry.title if entry else "",
                "entry link": (runbook.link(entry) or "") if entry else "",
                "issue": links.get(kc.fingerprint, ""),
            }
        )
    return rows


def coverage_markdown(
    coverage: list[KindCoverage], runbook: Runbook, links: dict[str, str], actions: list[GapAction]
) -> str:
    covered = sum(kc.status != "gap" for kc in coverage)
    pct = 100 * covered / len(coverage) if coverage else 100.0
    counts = Counter(a.act.value for a in actions)
    out = [
        "# Runbook coverage",
        "",
        f"Runbook: {escape.artifact_md(runbook.source, 200)} ({len(runbook.entries)} entries). "
        f"Kinds that paged: **{len(coverage)}**, covered: **{covered}** ({pct:.0f}%).",
        "",
        "Actions: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"),
        "",
        "| kind | alerts | occurrences | status | entry | issue |",
        "|---|---|---|---|---|---|",
    ]
    for kc in coverage:
        entry = kc.match.entry if kc.match else None
        link = runbook.link(entry) if entry else None
        entry_md = (
            f"[{escape.artifact_md(entry.title, 80)}]({link})"
            if entry and link
            else escape.artifact_md(entry.title, 80)
            if entry
            else "—"
        )
        issue = links.get(kc.fingerprint, "")
        out.append(
            f"| {escape.artifact_md(kc.kind, 120)} | {len(kc.alerts)} | {kc.occurrences} | {kc.status} | {entry_md} | {issue} |"
        )
    held = [a for a in actions if a.act is Act.HOLD]
    if held:
        out += [
            "",
            f"Held back by the per-run cap ({len(held)}): "
            + ", ".join(escape.artifact_md(a.kind, 80) for a in held),
        ]
    return "\n".join(out) + "\n"
