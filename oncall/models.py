"""Typed models every layer speaks, whatever the alert source.

Times are timezone-aware UTC `datetime`s; conversion to the team's zone happens only in
`oncall.clock` and the renderers. A field a source cannot provide is `None`, never invented.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator, model_validator


class Frozen(BaseModel):
    """Models that are values: frozen, and refusing a field they do not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"


_RANK = {p: n for n, p in enumerate(Priority)}


def priority_rank(priority: Priority | None) -> int:
    """Sort key: P1 first, and an unknown priority (a source without priorities) after P5."""
    return len(Priority) if priority is None else _RANK[priority]


def priority_label(priority: Priority | None) -> str:
    return "—" if priority is None else priority.value


class TimeWindow(Frozen):
    """A half-open interval [start, end) in UTC."""

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    @property
    def length(self) -> timedelta:
        return self.end - self.start


class AlertQuery(Frozen):
    """What to list; each source turns this into its own query syntax."""

    created: TimeWindow | None = None
    created_before: datetime | None = None
    updated: TimeWindow | None = None  # last change (closing is one) within the window
    status: str | None = None  # "open" | "closed"
    priorities: tuple[Priority, ...] = ()
    tags: tuple[str, ...] = ()


class Responder(Frozen):
    type: str  # user | team | escalation | schedule
    id: str
    name: str | None = None


class Alert(Frozen):
    """One page. Flows hold tens of thousands at once, so each instance is kept lean."""

    id: str
    tiny_id: str | None = None
    alias: str | None = None
    message: str
    status: str  # open | closed
    acknowledged: bool = False
    priority: Priority | None = None  # Rootly alerts carry none
    tags: tuple[str, ...] = ()
    source: str | None = None
    owner: str | None = None
    count: int = 1
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    last_occurred_at: AwareDatetime | None = None
    ack_after: timedelta | None = None
    close_after: timedelta | None = None
    acknowledged_by: str | None = None
    closed_by: str | None = None
    responders: tuple[Responder, ...] = ()
    integration: str | None = None
    url: str | None = None
    description: str | None = None
    details: dict[str, str] | None = None

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    @classmethod
    def lean(cls, **values: Any) -> Alert:
        """`Alert(**values)`, validated the same, holding once what equal alerts hold alike.

        The sources' parsers build alerts this way: a flow holds a week of them (50,000 on the
        scale scenario, where this cuts what they hold from 239 MB to 73 MB: `python -m
        bench.memory`). Pydantic gives every instance a set naming the fields it was given,
        2,264 bytes for an alert's 23 where the rest of the alert holds 2,500; alerts given
        the same fields share one here, handed to `model_construct` as its `_fields_set`,
        which pydantic documents it uses as given (it never changes a frozen model's set:
        `model_copy` copies it first). Equal tag and responder tuples, frozen, are shared too,
        and equal values of the fields a window repeats (status, source, owner, who
        acknowledged and closed, integration): the first one seen stands for the rest.
        """
        checked = cls(**values)
        given = frozenset(checked.model_fields_set)
        shared = _FIELDS_SETS.get(given)
        if shared is None:
            shared = _FIELDS_SETS.setdefault(given, set(given))
        fields = checked.__dict__ | {name: _first_equal(checked.__dict__[name]) for name in _REPEATED}
        return cls.model_construct(shared, **fields)


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}  # the names given -> the one set naming them
_REPEATED = ("tags", "responders", "status", "source", "owner", "acknowledged_by", "closed_by", "integration")


@lru_cache(maxsize=4096)
def _first_equal(value: Any) -> Any:
    """The first-seen value equal to `value` (immutable: a string, or a tuple of frozen values)."""
    return value


class TimelineEntry(Frozen):
    """One line of an incident's story: an incident log entry, an alert log line or a note."""

    at: datetime
    origin: str  # incident | alert-log | alert-note
    kind: str
    text: str
    actor: str | None = None
    ref: str | None = None  # the alert or incident id it came from


class Incident(Frozen):
    id: str
    tiny_id: str | None = None
    message: str
    status: str  # open | resolved | closed
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    created_at: datetime
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    owner: str | None = None
    owner_team: str | None = None
    responders: tuple[Responder, ...] = ()
    impacted_services: tuple[str, ...] = ()
    url: str | None = None
    extra: dict[str, str] = {}

    # One story in every output: the hand-off, the COE, the tracker, Slack and incident-watch all
    # measure an incident by these two instants. The start is the source's own (OpsGenie and JSM
    # creation, Rootly's `started_at`), not the first related alert: the hand-off and the watch
    # see no related alerts, and a COE that started earlier told a longer story than they did.

    @property
    def start(self) -> datetime:
        """When the incident began, as the source records it."""
        return self.created_at

    @property
    def end(self) -> datetime | None:
        """When it was resolved; None while it is open or the source gives no resolve time."""
        return self.resolved_at

    @property
    def duration(self) -> timedelta | None:
        """Start to end: the one duration every output shows and every threshold compares."""
        return None if self.end is None else self.end - self.start


# Teams that page without incidents: a closed P1/P2 alert stands in for an incident, under the
# incident id `alert-<alert id>`. The watch's events, the relay's, coe-prep's lock, document and
# tracker row all carry that id, so it is built and read back here only.
_STAND_IN = "alert-"


def stand_in_id(alert_id: str) -> str:
    """The incident id of the alert `alert_id` standing in for an incident."""
    return f"{_STAND_IN}{alert_id}"


def stood_in_by(incident_id: str) -> str | None:
    """The id of the alert standing in under `incident_id`, or None for a source's own incident."""
    return incident_id.removeprefix(_STAND_IN) if incident_id.startswith(_STAND_IN) else None


class Person(Frozen):
    id: str | None = None
    name: str
    type: str = "user"


class Rotation(Frozen):
    name: str
    start: datetime
    end: datetime | None = None
    unit: str  # hourly | daily | weekly
    length: int = 1
    participants: tuple[str, ...] = ()

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        if v not in ("hourly", "daily", "weekly"):
            raise ValueError(f"rotation type {v!r} is not hourly, daily or weekly")
        return v


class Schedule(Frozen):
    id: str
    name: str
    timezone: str = "UTC"
    enabled: bool = True
    rotations: tuple[Rotation, ...] = ()


class OnCall(Frozen):
    """Who is on call for a schedule at one instant (overrides applied by the source)."""

    schedule: str
    at: datetime
    people: tuple[Person, ...] = ()
    forwarded_from: tuple[Person, ...] = ()

    @property
    def names(self) -> str:
        return ", ".join(p.name for p in self.people) or "nobody"


class IssueRef(BaseModel):
    """A GitHub issue as plain data, so planning code never touches PyGithub objects.

    It lives in the core, not the GitHub client, so `oncall.gaps` plans without importing
    PyGithub. Unknown fields are ignored (the client validates GitHub's whole issue JSON)."""

    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    body: str
    state: str
    state_reason: str | None = None
    html_url: str
    created_at: datetime | None = None  # when it was filed: the age the hand-off shows
    updated_at: datetime | None = None  # its last activity: the advocacy digest says how long ago
    closed_at: datetime | None = None
    comments: int = 0
    is_pull_request: bool = False
    labels: tuple[str, ...] = ()
