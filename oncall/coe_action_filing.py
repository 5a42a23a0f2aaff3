"""A COE's corrective actions as GitHub issues, through the one filing lifecycle (`oncall.filing`).

Pure. An action row becomes an issue once. Its marker holds the document and the fingerprint of
the row's action text when it was filed; a row whose issue cell links an issue is known by that
link instead, so later edits to its text keep its issue: such an edit is said once on the issue
(a comment tagged with the new text's fingerprint), never filed again.

Everything in a row was typed by people, so it is escaped for GitHub's markdown (mentions and
`#12` references defused) and cut to GitHub's limits after escaping, as gap issues are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from oncall import escape
from oncall.coe_actions import ActionRow, ActionTable
from oncall.coe_doc import CellLink
from oncall.coe_review import CoeEntry
from oncall.filing import Act, Filing, Found, Marker, Update, Wanted, plan
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.models import Frozen, IssueRef


class ActionMarker(Marker):
    """The document and the action as it read when filed."""

    namespace = "oncall-flows:coe-action"

    doc: str
    fp: str
    incident: str = ""

    @property
    def key(self) -> str:
        return f"{self.doc}:{self.fp}"


def action_title(row: ActionRow) -> str:
    return escape.plain(f"COE action: {row.action}", TITLE_LIMIT)


def action_body(entry: CoeEntry, doc_id: str, doc_title: str, row: ActionRow) -> str:
    """The issue's body: where the action comes from (the COE, the incident), who owns it and by when."""
    lines = [
        f"A corrective action from the COE {escape.md(doc_title or entry.title, 200)} "
        f"({escape.md(entry.link, 300)}).",
        "",
        f"- **Action:** {escape.md(row.action, 2_000)}",
        f"- **Incident:** {escape.md(entry.incident_id, 100)} ({escape.md(entry.title, 300)})",
        f"- **Owner:** {escape.md(row.owner, 200) if row.owner else 'nobody yet: name one in the COE'}",
    ]
    if row.due is not None:
        lines.append(f"- **Due:** {row.due.isoformat()}")
    lines += [
        "",
        "Filed by oncall-flows' coe-review from the COE's corrective-actions table; the table's issue "
        "cell links here, and an edit to the action there is said here once.",
        "",
        ActionMarker(doc=doc_id, fp=row.fingerprint, incident=entry.incident_id).encode(),
    ]
    return escape.cut("\n".join(lines), BODY_LIMIT - 100)


def _edited(row: ActionRow) -> Update:
    """The row's new text, said once: the tag is the new text's fingerprint."""
    tag = f"<!-- oncall-flows:coe-action-text {row.fingerprint} -->"
    return Update(text=f"{tag}\nThe action in the COE now reads: {escape.md(row.action, 2_000)}", tag=tag)


def plan_actions(
    entry: CoeEntry,
    doc_id: str,
    doc_title: str,
    table: ActionTable,
    found: Mapping[str, Found[ActionMarker]],
    by_number: Mapping[int, IssueRef],
    label: str,
    repo: str,
    *,
    cap: int,
) -> list[Filing]:
    """The filing steps for one COE's table. `found` is the label's issues by marker key,
    `by_number` the same issues by number (a linked row's identity)."""
    wanted: list[Wanted] = []
    known = dict(found)
    for row in table.rows:
        link = row.issue
        if link is None:
            wanted.append(
                Wanted(
                    key=f"{doc_id}:{row.fingerprint}",
                    marker=ActionMarker,
                    name=row.action,
                    title=action_title(row),
                    body=action_body(entry, doc_id, doc_title, row),
                    labels=(label,),
                    reasons={Act.CREATE: "a corrective action without an issue"},
                )
            )
            continue
        if link.repo not in (None, repo):
            continue  # an issue elsewhere: its text is not ours to follow
        issue = by_number.get(link.number)
        marker = ActionMarker.first(issue.body) if issue is not None else None
        if issue is None or marker is None or marker.fp == row.fingerprint:
            continue  # filed by a person, or unchanged since it was filed
        known[marker.key] = Found(issue=issue, marker=marker)  # the link, not the text, is its identity
        wanted.append(
            Wanted(
                key=marker.key,
                marker=ActionMarker,
                name=row.action,
                title=issue.title,
                body="",
                labels=(label,),
                repeat=_edited(row),
                reasons={Act.COMMENT: "the action's text changed in the COE"},
            )
        )
    return plan(wanted, known, cap=cap)


def open_rows(table: ActionTable, closed: Collection[int]) -> list[ActionRow]:
    """The rows whose action is not done: no issue yet, or an issue that is not closed."""
    return [r for r in table.rows if r.issue is None or r.issue.number not in closed]


class LinkBack(Frozen):
    """The issue links one COE's document should show, written in one update of the revision read."""

    doc_id: str
    revision_id: str
    links: tuple[CellLink, ...]
    unwritable: tuple[str, ...] = ()  # actions whose issue cell cannot be written (a text table)


def links_to_write(
    doc_id: str,
    revision_id: str,
    table: ActionTable,
    filed: Mapping[str, IssueRef],
    repo: str,
) -> LinkBack:
    """Each unlinked row whose issue exists (`filed`: by marker key, the issues this run made and
    those an earlier run made but did not link: a crash before the write-back) gets its link:
    `owner/repo#N`, which reads back as that issue, linked to the issue's page."""
    links: list[CellLink] = []
    unwritable: list[str] = []
    for row in table.unfiled:
        issue = filed.get(f"{doc_id}:{row.fingerprint}")
        if issue is None:
            continue
        if row.issue_cell is None:
            unwritable.append(row.action)
            continue
        links.append(CellLink(index=row.issue_cell, text=f"{repo}#{issue.number}", url=issue.html_url))
    return LinkBack(doc_id=doc_id, revision_id=revision_id, links=tuple(links), unwritable=tuple(unwritable))
