"""A COE's corrective-actions table (action, owner, issue, due), read back into typed rows.

Pure. The rows are what coe-review files as GitHub issues, so a row is kept only when filing it
is safe: a row whose issue cell holds something that is not a GitHub issue (a Jira key, a typo)
is reported, never filed again; a row with an owner but no action, or a due date that does not
read as a date, is reported with what to fix and left out until it is fixed. Every problem names
the document. Rows still holding the template's prompts (`_(prevent it)_`) are skipped.

The columns are found by name in any order (case, emphasis and spacing aside); extra columns
are ignored. A team whose template names them otherwise passes its own `ActionColumns`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import date, datetime

from oncall.coe_doc import Block, BlockKind, Cell
from oncall.coe_sections import in_order, words
from oncall.models import Frozen

_ISSUE_URL = re.compile(r"https?://github\.com/([\w.-]+/[\w.-]+)/issues/(\d+)(?:[/?#]\S*)?", re.I)
_ISSUE_REF = re.compile(r"(?:([\w.-]+/[\w.-]+))?#(\d+)")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%b %d %Y", "%B %d %Y", "%d %b %Y", "%d %B %Y")
NO_DATE = frozenset({"", "tbd", "n/a", "na", "none", "-", "—", "–"})


class ActionColumns(Frozen):
    action: str = "action"
    owner: str = "owner"
    issue: str = "issue"
    due: str = "due"

    def names(self) -> tuple[str, str, str, str]:
        return (self.action, self.owner, self.issue, self.due)


class IssueLink(Frozen):
    number: int
    repo: str | None = None  # owner/name; None for `#12`, which means the configured repository
    url: str | None = None


class ActionRow(Frozen):
    row: int  # the table's row index (the header is 0): where a link is written back
    action: str
    owner: str | None = None
    issue: IssueLink | None = None
    due: date | None = None
    fingerprint: str  # of the action's words, as it read when filed: the marker's key
    issue_cell: int | None = None  # Docs index of the issue cell, for the write-back


class ActionProblem(Frozen):
    document: str  # the document's name (its Drive title) or link
    row: int | None  # None for the table as a whole
    message: str  # what is wrong and what to fix

    def __str__(self) -> str:
        where = f", row {self.row}" if self.row is not None else ""
        return f"{self.document}{where}: {self.message}"


class ActionTable(Frozen):
    rows: tuple[ActionRow, ...] = ()
    problems: tuple[ActionProblem, ...] = ()
    found: bool = False  # the document has the table

    @property
    def unfiled(self) -> tuple[ActionRow, ...]:
        return tuple(r for r in self.rows if r.issue is None)


def action_fingerprint(action: str) -> str:
    """The action's words, hashed: edits to spacing, case or punctuation keep it."""
    return hashlib.sha256(" ".join(words(action)).encode("utf-8")).hexdigest()[:16]


def parse_issue(cell: Cell) -> IssueLink | None:
    """The GitHub issue a cell links (a URL, a chip's link, `owner/repo#12` or `#12`), or None."""
    for text in (*cell.links, cell.text):
        if m := _ISSUE_URL.search(text):
            return IssueLink(repo=m.group(1), number=int(m.group(2)), url=m.group(0))
    if m := _ISSUE_REF.fullmatch(cell.text.strip()):
        return IssueLink(repo=m.group(1), number=int(m.group(2)))
    return None


def parse_due(text: str) -> date | None:
    """A due date as people write one (2026-12-15, Dec 15, 2026, 15 December 2026); None when the
    cell says there is none; ValueError when it is not a date. Day/month orders that read both
    ways (12/01/2026) are refused rather than guessed."""
    cleaned = " ".join(text.replace(",", " ").split())
    if cleaned.casefold() in NO_DATE:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _header_key(text: str) -> str:
    return " ".join(words(text))


def _find_table(blocks: Sequence[Block], columns: ActionColumns) -> Block | None:
    """The table whose header names the most of the columns; else a table in a section whose
    heading speaks of actions (its columns were renamed); else None."""
    wanted = {_header_key(n) for n in columns.names()}
    best: tuple[int, Block] | None = None
    heading = ""
    fallback: Block | None = None
    for b in blocks:
        if b.kind is BlockKind.HEADING:
            heading = b.text
        if b.kind is not BlockKind.TABLE or not b.rows:
            continue
        score = len(wanted & {_header_key(c.text) for c in b.rows[0]})
        if score and (best is None or score > best[0]):
            best = (score, b)
        if fallback is None and {"action", "actions", "corrective"} & set(words(heading)):
            fallback = b
    return best[1] if best else fallback


def _prompts(template: Sequence[Block], columns: ActionColumns) -> tuple[tuple[str, ...], ...]:
    """The template's prompt cells (`_(prevent it)_`): a row still holding one is unwritten."""
    table = _find_table(template, columns)
    if table is None:
        return ()
    return tuple(ws for row in table.rows[1:] for c in row if (ws := words(c.text)))


def read_actions(
    document: Sequence[Block],
    template: Sequence[Block],
    name: str,
    columns: ActionColumns | None = None,
) -> ActionTable:
    """The rows safe to file, and every problem with what to fix, for the document `name`."""
    columns = columns or ActionColumns()
    table = _find_table(document, columns)
    shown = ", ".join(columns.names())
    if table is None:
        if _find_table(template, columns) is None:
            return ActionTable()  # the team's template has no actions table: nothing to read
        return ActionTable(
            problems=(
                ActionProblem(
                    document=name,
                    row=None,
                    message=f"no corrective-actions table (columns {shown}): restore it from the template",
                ),
            )
        )
    header = [_header_key(c.text) for c in table.rows[0]]
    where = {n: header.index(_header_key(n)) for n in columns.names() if _header_key(n) in header}
    missing = [n for n in columns.names() if n not in where]
    if missing:
        strangers = [
            c.text.strip()
            for i, (c, k) in enumerate(zip(table.rows[0], header, strict=True))
            if i not in where.values() and k
        ]
        found = ", ".join(repr(c.text.strip()) for c in table.rows[0])
        hint = (
            f" (is {strangers[0]!r} the {missing[0]!r} column?)"
            if len(missing) == len(strangers) == 1
            else ""
        )
        return ActionTable(
            found=True,
            problems=(
                ActionProblem(
                    document=name,
                    row=None,
                    message=f"the corrective-actions table's columns are {found}; rename them to {shown}: "
                    f"{', '.join(missing)} not found{hint}",
                ),
            ),
        )
    prompts = _prompts(template, columns)
    rows: list[ActionRow] = []
    problems: list[ActionProblem] = []
    seen: dict[str, int] = {}
    for index, cells in enumerate(table.rows[1:], 1):

        def cell(column: str, cells: tuple[Cell, ...] = cells) -> Cell:
            at = where[column]
            return cells[at] if at < len(cells) else Cell(text="")

        action_cell, owner, issue_cell, due_cell = (cell(n) for n in columns.names())
        action = action_cell.text.strip()
        aw = words(action)
        is_prompt = not aw or any(in_order(aw, p) for p in prompts)
        filled = [
            f"{label} {c.text.strip()!r}"
            for label, c in (("owner", owner), ("issue", issue_cell), ("due", due_cell))
            if words(c.text) or c.links
        ]
        if is_prompt:
            if filled:
                problems.append(
                    ActionProblem(
                        document=name,
                        row=index,
                        message=f"it has {' and '.join(filled)} but no action: write the action in the "
                        f"{columns.action!r} cell, or clear the row",
                    )
                )
            continue
        issue = parse_issue(issue_cell)
        if issue is None and (words(issue_cell.text) or issue_cell.links):
            problems.append(
                ActionProblem(
                    document=name,
                    row=index,
                    message=f"the {columns.issue!r} cell holds {issue_cell.text.strip()!r}, not a GitHub issue: "
                    "put the issue's link there, or clear the cell to have one filed",
                )
            )
            continue
        try:
            due = parse_due(due_cell.text)
        except ValueError:
            problems.append(
                ActionProblem(
                    document=name,
                    row=index,
                    message=f"the {columns.due!r} date {due_cell.text.strip()!r} is not a date: write it as "
                    "YYYY-MM-DD (for example 2026-12-15), or clear it",
                )
            )
            continue
        fp = action_fingerprint(action)
        if issue is None and fp in seen:
            problems.append(
                ActionProblem(
                    document=name,
                    row=index,
                    message=f"it repeats the action of row {seen[fp]}: merge the two rows, or make them differ",
                )
            )
            continue
        seen.setdefault(fp, index)
        rows.append(
            ActionRow(
                row=index,
                action=action,
                owner=owner.text.strip() or None,
                issue=issue,
                due=due,
                fingerprint=fp,
                issue_cell=issue_cell.start_index,
            )
        )
    return ActionTable(rows=tuple(rows), problems=tuple(problems), found=True)
