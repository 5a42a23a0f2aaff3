"""What the hand-off says about COEs: for each of the shift's incidents whether the handbook asks
for one, whether it exists and how far it is written; and the corrective actions still open from
earlier COEs, oldest first.

Pure. The flow reads the tracker (one sheet read), the documents of the shift's incidents that
have a COE not yet Done, and the listing of corrective-action issues, and these functions decide.
The COE rule is `oncall.coe.needs_coe`, the one the watcher and coe-prep apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from oncall.coe import needs_coe
from oncall.coe_action_filing import ActionMarker
from oncall.coe_review import CoeEntry
from oncall.coe_sections import Completeness
from oncall.models import Frozen, Incident, IssueRef


class IncidentCoe(Frozen):
    needed: bool
    reason: str  # why it is needed or not, in the rule's words
    link: str | None = None  # the tracker's COE doc cell; None when no COE is tracked
    status: str | None = None
    written: str | None = None  # the completeness figure, when the document was read


class OpenAction(Frozen):
    number: int
    url: str
    title: str
    incident_id: str  # the COE's incident, from the issue's marker ("" when it has none)
    age: timedelta | None  # filed to the shift's end; None when filed later or GitHub gave no time


class CoeNotes(Frozen):
    """The hand-off's COE columns and open actions; absent from the summary when no tracker is set."""

    incidents: dict[str, IncidentCoe]
    open_actions: tuple[OpenAction, ...] = ()
    problem: str | None = None  # what could not be read, said once under the table


def incident_coes(
    incidents: Sequence[Incident],
    entries: Sequence[CoeEntry],
    read: Mapping[str, Completeness],
    threshold: timedelta,
) -> dict[str, IncidentCoe]:
    """Each incident's COE line. A COE in the tracker counts whatever the rule says (a person may
    have asked for one on a short incident)."""
    tracked = {e.incident_id: e for e in entries}
    out: dict[str, IncidentCoe] = {}
    for incident in incidents:
        needed, reason = needs_coe(incident, threshold)
        entry = tracked.get(incident.id)
        c = read.get(incident.id)
        out[incident.id] = IncidentCoe(
            needed=needed,
            reason=reason,
            link=(entry.link or None) if entry else None,
            status=entry.status if entry else None,
            written=c.figure if c is not None else None,
        )
    return out


def to_read_for(incidents: Sequence[Incident], entries: Sequence[CoeEntry]) -> list[CoeEntry]:
    """The tracker entries of these incidents whose document is worth reading: not Done, linked."""
    ids = {i.id for i in incidents}
    return [e for e in entries if e.incident_id in ids and not e.done and e.doc_id is not None]


def open_actions(issues: Sequence[IssueRef], now: datetime) -> tuple[OpenAction, ...]:
    """The corrective-action issues still open, oldest first (the label's listing holds them all;
    pull requests are left out)."""
    out = []
    for issue in issues:
        if issue.state != "open" or issue.is_pull_request:
            continue
        marker = ActionMarker.first(issue.body)
        out.append(
            OpenAction(
                number=issue.number,
                url=issue.html_url,
                title=issue.title.removeprefix("COE action: "),
                incident_id=marker.incident if marker is not None else "",
                # at the shift's end, so a hand-off reads the same whenever it is rendered; one
                # filed after that has no age in this shift
                age=now - issue.created_at
                if issue.created_at is not None and issue.created_at <= now
                else None,
            )
        )
    out.sort(key=lambda a: (-(a.age or timedelta()).total_seconds(), a.number))
    return tuple(out)
