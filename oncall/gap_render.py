"""Text that runbook-gaps writes: issue bodies, update comments, and the coverage report.

Alert text is untrusted: in GitHub text it lands escaped (no @-mention pings, no issue
references, no HTML, no markdown breakout) and everything is cut to GitHub's 65,536-character
body limit. The coverage report is a Prefect artifact (and coverage.md), so it gets the Prefect
UI's escaping (`escape.prefect_md`, links by `escape.prefect_link`): no HTML, link or markdown
breakout, and mentions as typed, since nobody is notified. Its table starts with the issue (a
short `#12` link) and the numbers, and ends with the long text (kind, entry), so the columns a
person acts on stay on screen at 1400 px.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import quote

from oncall import escape
from oncall.clock import fmt_local
from oncall.coverage import likely_product
from oncall.entry_skeleton import entry_place, entry_skeleton
from oncall.filing import Filing, Marker, Said, Step, Update, Wanted
from oncall.gaps import Act, GapAction, GapMarker, KindCoverage, last_reported, link_fingerprint
from oncall.models import Alert, priority_label
from oncall.runbook import Layout, Runbook, RunbookEntry

BODY_LIMIT = 65_536
TITLE_LIMIT = 256
LINKS = 20


def issue_title(kind: str, coverage: KindCoverage | None = None) -> str:
    what = (
        "Broken runbook link" if coverage is not None and coverage.status == "broken-link" else "Runbook gap"
    )
    return escape.plain(f"{what}: {kind}", TITLE_LIMIT)


def _alert_line(a: Alert, tz: str) -> str:
    ref = escape.md(f"#{a.tiny_id or a.id}", 40)
    link = f"[{ref}]({quote(a.url, safe=':/?&=#%')})" if a.url else ref
    return f"- {link} {priority_label(a.priority)} · {fmt_local(a.created_at, tz)} · ×{a.count} · {escape.md(a.message, 200)}"


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside, so alert text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _paste_hint(kc: KindCoverage, runbook: Runbook) -> str:
    product, path = entry_place(kc, runbook)
    where = escape.md(product) if product else None
    if runbook.layout is Layout.FILES:
        return f"Add `{escape.cut(path, 200)}` (under **{where or 'the runbook folder'}**) with:"
    if runbook.layout is Layout.TABLE:
        return f"Add this row to the table under **{where or 'its product heading'}**:"
    return f"Paste under **{where or 'its product heading'}** and fill in what fixed it:"


def _facts(kc: KindCoverage, tz: str) -> list[str]:
    priorities = Counter(priority_label(a.priority) for a in kc.alerts)
    return [
        f"- **Kind:** {escape.md(kc.kind, 300)}",
        f"- **First seen:** {fmt_local(kc.alerts[0].created_at, tz)}",
        f"- **Last seen:** {fmt_local(kc.alerts[-1].created_at, tz)}",
        f"- **Priorities:** {', '.join(f'{p} ×{n}' for p, n in sorted(priorities.items()))}",
    ]


def _alerts(kc: KindCoverage, tz: str) -> list[str]:
    description = kc.sample.description or ""
    parts = ["### Sample alert", "", f"> {escape.md(kc.sample.message, 500)}"]
    if description:
        parts += [">", f"> {escape.md(description, 1500)}"]
    parts += ["", f"### Alerts ({len(kc.alerts)})", ""]
    parts += [_alert_line(a, tz) for a in kc.alerts[-LINKS:]]
    if len(kc.alerts) > LINKS:
        parts.append(f"- …and {len(kc.alerts) - LINKS} earlier")
    return parts


def _fit(parts: list[str]) -> str:
    return escape.cut("\n".join(parts), BODY_LIMIT - 100, "\n\n…(cut to GitHub's limit)")


def issue_body(kc: KindCoverage, runbook: Runbook, tz: str) -> str:
    """A gap issue, or for a kind whose runbook link does not resolve, a broken-link issue."""
    if kc.status == "broken-link":
        return broken_link_body(kc, runbook, tz)
    marker = GapMarker(
        fp=kc.fingerprint, kind=kc.kind, sample=kc.sample.message, last=kc.alerts[-1].created_at
    )
    product = likely_product(runbook, kc.sample.message)
    skeleton = entry_skeleton(kc, runbook)
    fence = _fence(skeleton)
    parts = [
        marker.encode(),
        f"Alerts of this kind paged **{len(kc.alerts)}** time(s) ({kc.occurrences} occurrences) with no entry "
        f"in the runbook ({escape.md(runbook.source, 200)}).",
        "",
        *_facts(kc, tz),
        f"- **Likely product heading:** {escape.md(product) if product else 'none matched; pick one'}",
        "",
        *_alerts(kc, tz),
        "",
        "### Entry skeleton",
        "",
        _paste_hint(kc, runbook),
        "",
        f"{fence}markdown",
        skeleton.rstrip("\n"),
        fence,
        "",
        "_Filed by oncall-flows runbook-gaps. Closing it as not planned stops it from being reopened._",
    ]
    return _fit(parts)


def _detail(reason: str) -> str:
    """What is missing, without the link the sentence already names."""
    return reason.partition("which does not exist: ")[2] or reason


def broken_link_body(kc: KindCoverage, runbook: Runbook, tz: str) -> str:
    """The alert says where its runbook is, and that place does not exist: fix the link or the page."""
    assert kc.link is not None
    url = kc.link.url
    marker = GapMarker(
        fp=link_fingerprint(kc.kind),
        kind=kc.kind,
        sample=kc.sample.message,
        last=kc.alerts[-1].created_at,
        link=url,
    )
    parts = [
        marker.encode(),
        f"The alert links to {escape.md(url, 600)}, which does not exist ({escape.md(_detail(kc.link.reason), 300)}). "
        f"It paged **{len(kc.alerts)}** time(s) ({kc.occurrences} occurrences) sending responders there.",
        "",
        *_facts(kc, tz),
        f"- **Runbook:** {escape.md(runbook.source, 200)}",
        "",
        "Fix the alert's `runbook_url` annotation to point at its entry, or add the page or heading it names.",
        "",
        *_alerts(kc, tz),
        "",
        "_Filed by oncall-flows runbook-gaps. Closing it as not planned stops it from being reopened._",
    ]
    return _fit(parts)


def update_comment(action: GapAction, tz: str) -> str:
    assert action.coverage is not None
    kc = action.coverage
    marker = GapMarker(
        fp=action.fingerprint,
        kind=kc.kind,
        sample=kc.sample.message,
        last=action.new_alerts[-1].created_at,
        link=kc.link.url if action.fingerprint == link_fingerprint(kc.kind) and kc.link else None,
    )
    still = "a broken runbook link" if kc.status == "broken-link" else "no runbook entry"
    verb = f"Reopened: still {still}, and it" if action.act is Act.REOPEN else "It"
    lines = [marker.encode(update=True), f"{verb} paged {len(action.new_alerts)} more time(s):", ""]
    lines += [_alert_line(a, tz) for a in action.new_alerts[-LINKS:]]
    if len(action.new_alerts) > LINKS:
        lines.append(f"- …and {len(action.new_alerts) - LINKS} earlier")
    return escape.cut("\n".join(lines), BODY_LIMIT - 100)


class GapUpdate(Update):
    """The alerts of a planned comment that no update comment has reported yet: a rerun after
    a crash between the comment and the body's marker says nothing twice."""

    action: GapAction
    tz: str

    def unsaid(self, marker: Marker | None, comments: Sequence[str]) -> Said | None:
        assert isinstance(marker, GapMarker)
        seen_until = last_reported(marker, list(comments))
        new = [a for a in self.action.new_alerts if a.created_at > seen_until]
        if not new:
            return None
        return Said(
            comment=update_comment(self.action.model_copy(update={"new_alerts": new}), self.tz),
            marker=GapMarker(**{**marker.model_dump(), "last": new[-1].created_at}),
        )


CLOSE_MARKER = "<!-- oncall-flows:runbook-gap-close -->"


def close_comment(action: GapAction) -> str:
    if action.fingerprint == link_fingerprint(action.kind):
        return f"{CLOSE_MARKER}\nClosing: {escape.md(action.reason, 600)}."
    return f"{CLOSE_MARKER}\nClosing: the runbook now has an entry for this kind ({escape.md(action.reason, 300)})."


def gap_filing(action: GapAction, runbook: Runbook, tz: str, label: str) -> Filing:
    """A planned gap action as the filing applier takes it: a new issue's texts, or what to say
    on an existing one."""
    repeat: Update | None = None
    if action.act in (Act.COMMENT, Act.REOPEN):
        repeat = GapUpdate(action=action, tz=tz)
    elif action.act is Act.CLOSE:
        repeat = Update(text=close_comment(action), tag=CLOSE_MARKER)
    wanted = Wanted(
        key=action.fingerprint,
        marker=GapMarker,
        name=action.kind,
        title=issue_title(action.kind, action.coverage),
        body=issue_body(action.coverage, runbook, tz) if action.act is Act.CREATE and action.coverage else "",
        labels=(label,),
        repeat=repeat,
    )
    return Step(act=action.act, want=wanted, reason=action.reason, issue=action.issue)


def _flags(entry: RunbookEntry | None) -> str:
    return ", ".join(entry.flags) if entry else ""


def _entry_link(kc: KindCoverage, runbook: Runbook) -> str:
    entry = kc.entry
    if entry is not None:
        return runbook.link(entry) or ""
    return kc.link.url if kc.link is not None and kc.status == "covered" else ""


def coverage_rows(
    coverage: list[KindCoverage], runbook: Runbook, links: dict[str, str]
) -> list[dict[str, str]]:
    """One row per kind for the table artifact and coverage.md."""
    rows = []
    for kc in coverage:
        entry = kc.entry
        rows.append(
            {
                "issue": links.get(kc.issue_fingerprint, ""),
                "status": kc.status,
                "alerts": str(len(kc.alerts)),
                "occurrences": str(kc.occurrences),
                "kind": kc.kind,
                "entry": entry.title if entry else "",
                "flags": _flags(entry),
                "entry link": _entry_link(kc, runbook),
                "runbook link": kc.link.url if kc.link else "",
            }
        )
    return rows


QUALITY_SHOWN = 50


def _entry_md(entry: RunbookEntry, runbook: Runbook, limit: int = 80) -> str:
    return escape.prefect_link(entry.title, runbook.link(entry), limit)


def _issue_md(url: str) -> str:
    """An issue as a short link, `#12`; a URL of another form (a placeholder) as `issue`."""
    if not url:
        return "—"
    m = re.search(r"/(?:issues|pull)/(\d+)$", url)
    return escape.prefect_link(f"#{m.group(1)}" if m else "issue", url, 20)


UNCHANGED = "unchanged"
# Why a gap kind gets no action: its issue exists (open, or closed as done) and nothing paged
# since the issue last said.
_UNCHANGED_WHY = "issue filed, no new alerts"
_OUTCOME_ORDER = [*(a.value for a in Act if a is not Act.CLOSE), UNCHANGED]


def gap_outcomes(coverage: list[KindCoverage], actions: list[GapAction]) -> dict[str, int]:
    """What this run does about each kind that is a gap or a broken link, counted by action:
    create, comment, reopen, hold, leave, or unchanged (an issue exists and nothing new paged).
    The counts add up to the gaps and broken links; closes are of covered kinds, not counted."""
    acted = {a.fingerprint: a.act.value for a in actions if a.act is not Act.CLOSE}
    counts = Counter(
        acted.get(kc.issue_fingerprint, UNCHANGED) for kc in coverage if kc.status in ("gap", "broken-link")
    )
    return {what: counts[what] for what in _OUTCOME_ORDER if counts[what]}


def _outcomes_line(coverage: list[KindCoverage], actions: list[GapAction]) -> str:
    outcomes = gap_outcomes(coverage, actions)
    parts = [
        f"{act} {n}" + (f": {_UNCHANGED_WHY}" if act == UNCHANGED else "") for act, n in outcomes.items()
    ]
    closes = sum(a.act is Act.CLOSE for a in actions)
    line = f"Gaps and broken links: **{sum(outcomes.values())}** ({' · '.join(parts) or 'none'})"
    return line + (f". Closed as covered again: **{closes}**" if closes else "")


def quality_markdown(coverage: list[KindCoverage], runbook: Runbook) -> list[str]:
    """Entries flagged no Diagnosis, no Mitigation or stub: those that paged this window first."""
    flagged = [e for e in runbook.entries if e.flags]
    if not flagged:
        return ["## Entry quality", "", f"All {len(runbook.entries)} entries have Diagnosis and Mitigation."]
    paged_keys = {(e.path, e.line) for kc in coverage if (e := kc.entry) is not None}
    flagged.sort(key=lambda e: ((e.path, e.line) not in paged_keys, e.path, e.line))
    out = [
        "## Entry quality",
        "",
        f"{len(flagged)} of {len(runbook.entries)} entries are flagged "
        f"({sum((e.path, e.line) in paged_keys for e in flagged)} of them paged in this window):",
        "",
    ]
    for entry in flagged[:QUALITY_SHOWN]:
        seen = " · paged" if (entry.path, entry.line) in paged_keys else ""
        out.append(f"- {_entry_md(entry, runbook)}: {', '.join(entry.flags)}{seen}")
    if len(flagged) > QUALITY_SHOWN:
        out.append(f"- …and {len(flagged) - QUALITY_SHOWN} more")
    return out


def coverage_markdown(
    coverage: list[KindCoverage],
    runbook: Runbook,
    links: dict[str, str],
    actions: list[GapAction],
    pulls: Sequence[str] = (),
) -> str:
    covered = sum(kc.status in ("covered", "partial") for kc in coverage)
    pct = f"{100 * covered / len(coverage):.0f}%" if coverage else "n/a"
    out = [
        "# Runbook coverage",
        "",
        f"Runbook: {escape.prefect_md(runbook.source, 200)} ({len(runbook.entries)} entries, "
        f"layout {runbook.layout.value}). "
        f"Kinds that paged: **{len(coverage)}**, covered: **{covered}** ({pct}).",
        "",
        _outcomes_line(coverage, actions),
        "",
        "## Kinds",
        "",
        "| issue | status | alerts | occurrences | kind | entry |",
        "|---|---|---|---|---|---|",
    ]
    for kc in coverage:
        entry = kc.entry
        if entry is not None:
            flags = f" ({escape.prefect_md(_flags(entry), 60)})" if entry.flags else ""
            entry_md = _entry_md(entry, runbook) + flags
        elif kc.link is not None:
            entry_md = escape.prefect_md(kc.link.url, 120)
        else:
            entry_md = "—"
        issue = _issue_md(links.get(kc.issue_fingerprint, ""))
        out.append(
            f"| {issue} | {kc.status} | {len(kc.alerts)} | {kc.occurrences} | "
            f"{escape.prefect_md(kc.kind, 120)} | {entry_md} |"
        )
    held = [a for a in actions if a.act is Act.HOLD]
    if held:
        out += [
            "",
            f"Held back by the per-run cap ({len(held)}): "
            + ", ".join(escape.prefect_md(a.kind, 80) for a in held),
        ]
    if pulls:
        out += ["", f"Draft pull requests ({len(pulls)}):", "", *(f"- {p}" for p in pulls)]
    out += ["", *quality_markdown(coverage, runbook)]
    return "\n".join(out) + "\n"
