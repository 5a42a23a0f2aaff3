"""From gap to entry: the draft pull request that adds a gap's entry skeleton to the runbook.

Pure. The handbook asks whoever mitigated a page with no entry to add one; a draft pull
request with the skeleton already in place (prefilled with what responders wrote) makes that
one click. Every write it leads to is found again by a key: the branch by the kind's
fingerprint, the commit by the entry marker in the file on that branch, the pull request by
its branch, and the gap issue's link by a comment marker. So a crash anywhere between them
leaves nothing a rerun cannot finish.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from oncall import escape
from oncall.entry_skeleton import entry_place, entry_skeleton
from oncall.gap_render import TITLE_LIMIT
from oncall.gaps import ExistingGap, KindCoverage
from oncall.runbook import Layout, Runbook

BRANCH_PREFIX = "oncall-flows/runbook-gap-"
ENTRY_MARKER = "oncall-flows:runbook-entry"
LINK_MARKER = "oncall-flows:runbook-gap-pr"
BODY_LIMIT = 65_536
NOTES_PER_KIND = 5  # alerts whose notes are read, newest first

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def branch_name(fp: str) -> str:
    return f"{BRANCH_PREFIX}{fp}"


def entry_marker(fp: str) -> str:
    """Hidden in the inserted entry: the file on the branch holding it means the commit was made."""
    return f"<!-- {ENTRY_MARKER} {fp} -->"


def link_marker(fp: str) -> str:
    return f"<!-- {LINK_MARKER} {fp} -->"


class PullPlan(BaseModel):
    """One draft pull request to open, with everything its writes need."""

    model_config = ConfigDict(frozen=True)

    kind: str
    fingerprint: str
    repo: str  # the runbook's repository
    base: str | None  # the ref the runbook was read at; None: the default branch
    branch: str
    path: str  # the file to change or add, in the repository
    layout: Layout
    product: str | None
    entry: str  # the skeleton, marker included
    title: str
    body: str
    commit_message: str
    issue_repo: str
    issue: GapIssue


class GapIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    html_url: str


class PullOutcome(BaseModel):
    """What one pull request task found or did; `opened` counts against the per-run cap."""

    model_config = ConfigDict(frozen=True)

    kind: str
    html_url: str | None  # None: held, or the file already exists without our entry
    opened: bool
    held: bool = False  # none exists, and the run's cap is spent


def _issue_of(url: str) -> GapIssue | None:
    m = re.search(r"/issues/(\d+)$", url)
    return GapIssue(number=int(m.group(1)), html_url=url) if m else None


def pull_candidates(
    coverage: Sequence[KindCoverage], existing: Mapping[str, ExistingGap], filed: Mapping[str, str]
) -> list[tuple[KindCoverage, GapIssue]]:
    """The new gaps: kinds without an entry whose gap issue is open, filed earlier first (one a
    crash left half done is finished before any other starts), then those this run filed or
    reopened (`filed`: fingerprint to issue URL). Held and not-planned kinds get none; whether
    a pull request exists already is GitHub's to say."""
    now: list[tuple[KindCoverage, GapIssue]] = []
    before: list[tuple[KindCoverage, GapIssue]] = []
    for kc in coverage:
        if kc.status != "gap":
            continue
        gap = existing.get(kc.fingerprint)
        if kc.fingerprint in filed:  # filed or reopened by this run
            issue = _issue_of(filed[kc.fingerprint])
            if issue is not None:
                now.append((kc, issue))
        elif gap is not None and gap.issue.state == "open":
            before.append((kc, GapIssue(number=gap.issue.number, html_url=gap.issue.html_url)))
    return before + now


def notes_wanted(kc: KindCoverage) -> list[str]:
    """The alerts whose responders' notes prefill the skeleton: the newest few of the kind."""
    return [a.id for a in kc.alerts[-NOTES_PER_KIND:]]


def notes_of(kc: KindCoverage, notes: Mapping[str, Sequence[str]]) -> list[str]:
    """The notes read for `notes_wanted(kc)`, newest alert first, each alert's in its order."""
    return [note for a in reversed(kc.alerts[-NOTES_PER_KIND:]) for note in notes.get(a.id, ())]


def _closes(issue: GapIssue, issue_repo: str, repo: str) -> str:
    return f"Closes #{issue.number}" if issue_repo == repo else f"Closes {issue_repo}#{issue.number}"


def plan_pull(
    kc: KindCoverage, issue: GapIssue, issue_repo: str, runbook: Runbook, notes: Sequence[str] = ()
) -> PullPlan:
    """The pull request for one gap; the runbook must have been read from GitHub."""
    assert runbook.repo is not None
    product, rel = entry_place(kc, runbook)
    path = posixpath.join(runbook.root, rel) if rel else runbook.root
    marker = entry_marker(kc.fingerprint)
    entry = entry_skeleton(kc, runbook, notes, marker=marker, esc=escape.md)
    where = (
        f"adds `{escape.cut(path, 300)}`"
        if runbook.layout is Layout.FILES
        else f"adds an entry to `{escape.cut(path, 300)}` under **{escape.md(product, 200)}**"
        if product
        else f"adds an entry at the end of `{escape.cut(path, 300)}` (no product heading matched: move it)"
    )
    body = "\n".join(
        [
            _closes(issue, issue_repo, runbook.repo),
            "",
            f"Alerts of kind {escape.md(kc.kind, 300)} paged **{len(kc.alerts)}** time(s) with no runbook "
            f"entry ({issue.html_url}). This draft {where}, in the runbook's own format.",
            "",
            "Whoever mitigated it: replace the TODOs with what you checked and what fixed it, then mark it "
            "ready for review. Notes responders wrote on the alerts are already there as a start.",
            "",
            "_Opened by oncall-flows runbook-gaps._",
        ]
    )
    return PullPlan(
        kind=kc.kind,
        fingerprint=kc.fingerprint,
        repo=runbook.repo,
        base=runbook.ref,
        branch=branch_name(kc.fingerprint),
        path=path,
        layout=runbook.layout,
        product=product,
        entry=entry,
        title=escape.plain(f"Runbook: add an entry for {kc.kind}", TITLE_LIMIT),
        body=escape.cut(body, BODY_LIMIT - 100),
        commit_message=escape.plain(f"Runbook: entry skeleton for {kc.kind}", 200),
        issue_repo=issue_repo,
        issue=issue,
    )


class _Line(BaseModel):
    level: int  # 0 for a line that is no heading
    text: str


def _scan(lines: list[str]) -> list[_Line]:
    """Each line as a heading (level, text) or not, with fenced code skipped as GitHub does."""
    out: list[_Line] = []
    fence: tuple[str, int] | None = None
    for line in lines:
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1] and not m.group(2).strip():
                fence = None
            out.append(_Line(level=0, text=line))
            continue
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            fence = (m.group(1)[0], len(m.group(1)))
            out.append(_Line(level=0, text=line))
            continue
        h = _HEADING.match(line)
        out.append(
            _Line(level=len(h.group(1)), text=(h.group(2) or "").strip()) if h else _Line(level=0, text=line)
        )
    return out


def _plain_heading(text: str) -> str:
    return " ".join(re.sub(r"[`*_]", "", text).split()).lower()


def _section(scanned: list[_Line], product: str | None, below: int) -> tuple[int, int] | None:
    """(first line after the product heading, end of its section) as indexes, or None."""
    if product is None:
        return None
    want = _plain_heading(product)
    for i, line in enumerate(scanned):
        if 0 < line.level < below and _plain_heading(line.text) == want:
            end = next(
                (j for j in range(i + 1, len(scanned)) if 0 < scanned[j].level <= line.level), len(scanned)
            )
            return i + 1, end
    return None


def insert_entry(text: str, plan: PullPlan, entry_level: int) -> str:
    """`text` with the entry placed at the end of its product's section (the end of the file
    when the product heading is not found), or, for a table, after the section's last row."""
    lines = text.split("\n")
    scanned = _scan(lines)
    below = entry_level if plan.layout is not Layout.TABLE else 7
    found = _section(scanned, plan.product, below)
    entry = plan.entry.rstrip("\n").split("\n")
    if plan.layout is Layout.TABLE:
        first, last = found or (0, len(lines))
        rows = [j for j in range(first, last) if scanned[j].level == 0 and lines[j].lstrip().startswith("|")]
        if rows:
            at = rows[-1] + 1
            return "\n".join([*lines[:at], *entry, *lines[at:]])
    start, end = found if found else (len(lines), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1  # before the blank lines that close the section
    if not found:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join([*lines, "", *entry, ""])
    gap = [""] if end < len(lines) and lines[end].strip() else []
    return "\n".join([*lines[:end], "", *entry, *gap, *lines[end:]])


def has_entry(text: str | None, fp: str) -> bool:
    return text is not None and entry_marker(fp) in text


def link_comment(plan: PullPlan, pull_url: str) -> str:
    return (
        f"{link_marker(plan.fingerprint)}\n"
        f"A draft pull request adds this kind's entry skeleton to the runbook: {pull_url}. "
        "Fill in what fixed it and mark it ready; merging it closes this issue."
    )
