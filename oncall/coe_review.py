"""The review meeting: which COEs are on its agenda, who presents, who is nudged, which
tracker statuses move.

Pure: the flow reads the tracker and each document, and these functions decide.

- The agenda holds every COE whose tracker status is not Done, by incident priority, then
  oldest first. The presenter is who was on call when the incident started (the tracker's
  "On call" cell, as coe-prep wrote it).
- A nudge goes to the team channel for an incomplete COE older than the configured age, once
  per COE per meeting (`Nudge.key`), and mentions the presenter only through a configured Slack
  member id: a name is never turned into a mention.
- The flow owns one column, Status, and only the values of its own lifecycle: Draft (coe-prep's)
  becomes In review when the agenda includes the COE, and In review becomes Done when its
  sections are complete and every action issue is closed. Any other value is a person's, and so
  is a flow value a person wrote back (the flow's last write, when recorded, tells them apart):
  people's edits always win.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, timedelta

from oncall.clock import parse_instant
from oncall.coe import TEMPLATE
from oncall.coe_actions import ActionTable, IssueLink
from oncall.coe_doc import Block, blocks_from_markdown, document_id
from oncall.coe_sections import Completeness
from oncall.errors import InputError
from oncall.models import Frozen, Priority, priority_rank
from oncall.tracker import DAY, SHEETS_EPOCH, TRACKER_HEADER, read_cells

DRAFT, IN_REVIEW, DONE = "Draft", "In review", "Done"
STATUS_COLUMN = TRACKER_HEADER.index("Status")  # the one column coe-review writes
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
# A pull request's page on GitHub or GitHub Enterprise: https://<host>/<owner>/<repo>/pull/<n>
_PULL_LINK = re.compile(r"https?://[^/\s]+(?:/[^/\s]+)*?/([\w.-]+/[\w.-]+)/pull/(\d+)(?:[/?#]\S*)?")
_SERIAL = re.compile(r"\d+(?:\.\d+)?")


class PullLink(Frozen):
    """A COE kept as markdown: the pull request the tracker's COE doc cell links."""

    repo: str  # owner/name
    number: int


def pull_link(link: str) -> PullLink | None:
    m = _PULL_LINK.fullmatch(link.strip())
    return PullLink(repo=m.group(1), number=int(m.group(2))) if m else None


class CoeEntry(Frozen):
    """One tracker row, read back (or, with no tracker, one COE pull request)."""

    row: int  # the sheet's row number, for the status write
    incident_id: str
    title: str
    start: datetime | None  # None when the cell does not read as a time
    priority: Priority | None
    link: str  # the "COE doc" cell as written
    doc_id: str | None  # None when the cell holds no Docs link: the document cannot be read
    on_call: str
    status: str
    pull: PullLink | None = None  # a COE kept as markdown in this pull request
    tracked: bool = True  # False: no tracker; the pull request's state is the status, never written

    @property
    def done(self) -> bool:
        return _norm(self.status) == _norm(DONE)


def _norm(status: str) -> str:
    return " ".join(status.split()).casefold()


def _start(cell: str, tz: str) -> datetime | None:
    """The Start cell as Sheets answers it: formatted (`2026-11-21 14:05`, the team's wall
    clock) or, read unformatted, a serial day number."""
    text = cell.strip()
    if _SERIAL.fullmatch(text):
        wall = SHEETS_EPOCH + float(text) * DAY
        text = wall.replace(microsecond=0).isoformat()
    try:
        return parse_instant(text, tz) if text and text.casefold() != "now" else None
    except InputError:
        return None


def read_entry(number: int, values: list[object], tz: str) -> CoeEntry | None:
    """A tracker row as an entry; None for a row without an incident id (a blank or a note)."""
    cells = read_cells(values)
    col = {name: cells[i].strip() for i, name in enumerate(TRACKER_HEADER)}
    if not col["Incident ID"]:
        return None
    pri = col["Priority"].upper()
    doc_id = document_id(col["COE doc"])
    return CoeEntry(
        row=number,
        incident_id=col["Incident ID"],
        title=col["Title"],
        start=_start(col["Start"], tz),
        priority=Priority(pri) if pri in Priority.__members__ else None,
        link=col["COE doc"],
        doc_id=doc_id,
        on_call=col["On call"],
        status=col["Status"] or DRAFT,  # a hand-added row without a status is a draft
        pull=pull_link(col["COE doc"]) if doc_id is None else None,
    )


def read_entries(values: list[list[object]], tz: str) -> list[CoeEntry]:
    """Every COE in the tracker, from one read of its rows (`TRACKER_RANGE`, header included)."""
    rows = values[1:] if values and read_cells(values[0])[0].strip().casefold() == "incident id" else values
    first = len(values) - len(rows) + 1
    return [e for n, row in enumerate(rows, first) if (e := read_entry(n, row, tz)) is not None]


def document_problem(entry: CoeEntry, status: int | None, account: str | None = None) -> str:
    """What to fix when a COE's document cannot be read: Docs answers 404 for a deleted document
    (and one never shared: it will not say which), 403 for one shared without edit rights, 400
    for a file that is not a Google Doc (a .docx in Drive)."""
    who = account or "the service account"
    where = f"COE for {entry.incident_id} ({entry.link})"
    if status == 404:
        return f"{where}: the document was deleted or is not shared with {who}: restore it from Drive's trash or share it"
    if status == 403:
        return f"{where}: {who} may not open the document: share it with {who} as an editor"
    if status == 400:
        return f"{where}: the file is not a Google Doc: open it in Docs and use File > Save as Google Docs, then link the copy"
    return f"{where}: the document could not be read ({status or 'no answer'}); the next run tries again"


def default_template_blocks() -> tuple[Block, ...]:
    """The reference a COE is judged against when the team has no template Doc: the default
    template, read without Google (a team keeping its COEs in git may have no Google key)."""
    return blocks_from_markdown(TEMPLATE.read_text(encoding="utf-8"))


def to_read(entries: Sequence[CoeEntry]) -> list[CoeEntry]:
    """The entries whose document the flow reads: not Done, and with a document to read."""
    return [e for e in entries if not e.done and e.doc_id is not None]


def to_read_pulls(entries: Sequence[CoeEntry]) -> list[CoeEntry]:
    """The entries kept as markdown whose file the flow reads: not Done, linking a pull request."""
    return [e for e in entries if not e.done and e.pull is not None]


def pull_status(state: str, draft: bool, merged: bool) -> str | None:
    """Without a tracker, the pull request's state is the COE's status: a draft is Draft, one
    ready for review In review, a merged one Done. One closed without merging is None: the team
    withdrew it (a person's decision, as a status typed in the tracker is), so it is neither on
    the agenda nor read; reopening the pull request brings it back."""
    if merged:
        return DONE
    if state != "open":
        return None
    return DRAFT if draft else IN_REVIEW


class AgendaItem(Frozen):
    entry: CoeEntry
    completeness: Completeness | None = None  # None when the document could not be read
    problems: tuple[str, ...] = ()  # what to fix, each naming the document
    age: timedelta | None = None

    @property
    def presenter(self) -> str:
        return self.entry.on_call or "nobody on record"


class Agenda(Frozen):
    meeting: datetime
    items: tuple[AgendaItem, ...]


def build_agenda(
    entries: Sequence[CoeEntry],
    read: Mapping[str, Completeness],
    problems: Mapping[str, Sequence[str]],
    meeting: datetime,
) -> Agenda:
    """Every COE not Done, by priority then oldest first (then by id, so the order is stable).
    `read` and `problems` are keyed by incident id; a COE without a document is on the agenda
    with the problem that says so."""
    items = []
    for e in entries:
        if e.done:
            continue
        found = list(problems.get(e.incident_id, ()))
        if e.doc_id is None and e.pull is None:
            found.insert(
                0,
                f"COE for {e.incident_id}: the tracker's COE doc cell ({e.link or 'empty'}) is not a "
                f"Google Docs link or a GitHub pull request's: put the COE's link in row {e.row}",
            )
        age = meeting - e.start if e.start is not None else None
        items.append(
            AgendaItem(entry=e, completeness=read.get(e.incident_id), problems=tuple(found), age=age)
        )
    items.sort(
        key=lambda i: (
            priority_rank(i.entry.priority),
            -(i.age.total_seconds() if i.age is not None else float("-inf")),
            i.entry.incident_id,
        )
    )
    return Agenda(meeting=meeting, items=tuple(items))


class Nudge(Frozen):
    key: str  # once per COE per meeting
    incident_id: str
    mentions: tuple[str, ...]  # Slack member ids, validated
    unnamed: tuple[str, ...]  # presenters without a configured id, shown by name


def nudge_key(incident_id: str, meeting: datetime) -> str:
    return f"coe-review nudge {incident_id} {meeting.date().isoformat()}"


def plan_nudges(
    agenda: Agenda, older_than: timedelta, slack_ids: Mapping[str, str], already: Collection[str] = ()
) -> list[Nudge]:
    """The nudges to post: incomplete COEs older than `older_than` at the meeting, none whose key
    was already posted. A COE whose document could not be read gets its problem, not a nudge."""
    ids = {name.casefold(): sid for name, sid in slack_ids.items() if _SLACK_ID.fullmatch(sid)}
    out = []
    for item in agenda.items:
        c, age = item.completeness, item.age
        if c is None or c.complete or age is None or age < older_than:
            continue
        key = nudge_key(item.entry.incident_id, agenda.meeting)
        if key in already:
            continue
        names = [n.strip() for n in item.entry.on_call.split(",") if n.strip()]
        mentions = tuple(dict.fromkeys(ids[n.casefold()] for n in names if n.casefold() in ids))
        unnamed = tuple(n for n in names if n.casefold() not in ids)
        out.append(Nudge(key=key, incident_id=item.entry.incident_id, mentions=mentions, unnamed=unnamed))
    return out


class StatusChange(Frozen):
    row: int
    incident_id: str
    before: str
    after: str
    column: int = STATUS_COLUMN


def done_ready(
    completeness: Completeness | None, actions: ActionTable, closed: Collection[IssueLink]
) -> bool:
    """A COE is done when its sections are complete, its actions table reads without a problem,
    and every action row links an issue that is closed (`closed`: the closed issues the flow
    found, with the repository filled in where the row's `#12` left it out)."""
    if completeness is None or not completeness.complete or actions.problems or not actions.rows:
        return False
    numbers = {(link.repo, link.number) for link in closed} | {(None, link.number) for link in closed}
    return all(r.issue is not None and (r.issue.repo, r.issue.number) in numbers for r in actions.rows)


def plan_status(
    entry: CoeEntry, *, on_agenda: bool, ready: bool, last_written: str | None = None
) -> StatusChange | None:
    """The status write, if any. `last_written` is what the flow last wrote into the cell (None
    when nothing is recorded): a cell that differs from it was edited by a person, and is left.
    A COE without a tracker row (its pull request is its status) gets none."""
    if not entry.tracked:
        return None
    current = _norm(entry.status)
    if last_written is not None and current != _norm(last_written):
        return None
    after = None
    if current == _norm(DRAFT) and on_agenda:
        after = IN_REVIEW
    elif current == _norm(IN_REVIEW) and ready:
        after = DONE
    if after is None:
        return None
    return StatusChange(row=entry.row, incident_id=entry.incident_id, before=entry.status, after=after)


def done_key(incident_id: str) -> str:
    """The team is told once that a COE is done."""
    return f"coe-review done {incident_id}"


def next_meeting(after: datetime, anchor: date, weeks: int, hour: int, minute: int, tz: str) -> datetime:
    """The first meeting after `after`: every `weeks` weeks from the meeting on
    `anchor` (a local date), at hour:minute in `tz`. It is the rrule
    `FREQ=WEEKLY;INTERVAL=n` with `anchor` as its start, for the tracker's review date."""
    if weeks < 1:
        raise InputError(f"the review cadence's interval {weeks} is not a whole number of weeks")
    step = timedelta(weeks=weeks)
    day = anchor
    first = parse_instant(f"{day.isoformat()}T{hour:02d}:{minute:02d}", tz)
    if first > after:
        return first
    skipped = (after - first) // step
    day = anchor + skipped * step
    while (at := parse_instant(f"{day.isoformat()}T{hour:02d}:{minute:02d}", tz)) <= after:
        day += step
    return at


_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def meeting_clock(at: str) -> tuple[int, int]:
    """`HH:MM` (Settings has checked its shape) as hour and minute."""
    hour, minute = at.split(":")
    return int(hour), int(minute)


def review_rrule(anchor: date, weeks: int, at: str) -> str:
    """The cadence as the rrule Prefect schedules coe-review from (cron cannot say "every other
    week"): weekly on the anchor's weekday, every `weeks` weeks counted from the anchor, at `at`
    local time. The zone goes beside it in the schedule; `next_meeting` reads the same cadence."""
    hour, minute = meeting_clock(at)
    return (
        f"DTSTART:{anchor:%Y%m%d}T{hour:02d}{minute:02d}00\n"
        f"RRULE:FREQ=WEEKLY;INTERVAL={weeks};BYDAY={_BYDAY[anchor.weekday()]}"
    )
