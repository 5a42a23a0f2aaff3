"""An AlertSource that holds the seeded week as models: the flows' logic without HTTP.

`MemorySource.seeded()` reads the sandbox's week (`oncall.sandbox.seed.seed_week`) once into
the shared models and answers from them in memory, so a fast test exercises a flow's gather,
decide and apply steps without the fakes, their HTTP and their parsing. It answers as the
HTTP clients do, and a test holds it to that (tests/flows/test_fast_memory_source.py compares
it with the OpsGenie client on the same week):

- queries filter as the vendors' do: created and updated windows half-open, `created_before`,
  status, any of the priorities, every tag; answers sorted by creation time, then id;
- a list answer leaves out the description and details (OpsGenie's and JSM's lists do), so a
  flow still reads the alert itself for them (`lists_carry_details` says so, as on the clients);
- an incident's `resolved_at` is read off its timeline; a resolved incident is found by its
  last change, as incident-watch asks;
- an id it does not hold is a NotFoundError naming it; alerts and incidents are also found by
  the number the hand-off shows (`1101`, `#101`);
- `lacks` blanks what a source does not record (`like="rootly"`: no priorities, no dedup
  counts), so the hand-off of a source without a field can be tested without its fake.

It records what it was asked (`calls`), and a test can make one method fail (`failing`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.errors import NotFoundError, OncallError
from oncall.models import (
    Alert,
    AlertQuery,
    Incident,
    OnCall,
    Person,
    Responder,
    Schedule,
    TimelineEntry,
    TimeWindow,
)
from oncall.sandbox.week import Turn, Week, on_call_turns
from oncall.sources.genie import alert_from_raw, responders, schedule_from_raw

SYSTEM = "Memory"
WEB = "https://app.opsgenie.com"  # the week is in OpsGenie's shapes: its alerts link where OpsGenie's would
_RESOLVING = ("IncidentResolved", "IncidentClosed")


@dataclass(frozen=True)
class MemoryWeek:
    """The seeded week as models, read once; every MemorySource over it shares them."""

    alerts: tuple[Alert, ...]  # full records, by creation time then id
    alert_timelines: Mapping[str, tuple[TimelineEntry, ...]]
    incidents: tuple[Incident, ...]  # resolve times filled, by creation time then id
    incident_timelines: Mapping[str, tuple[TimelineEntry, ...]]
    schedules: tuple[Schedule, ...]
    turns: Mapping[str, tuple[Turn, ...]]  # schedule name -> its turns, overrides marked

    @classmethod
    def from_week(cls, week: Week, web_base: str = WEB) -> MemoryWeek:
        """The sandbox's records (OpsGenie's shapes) as models."""
        alerts = sorted(
            (alert_from_raw(raw, web_base) for raw in week.alerts), key=lambda a: (a.created_at, a.id)
        )
        alert_timelines = {
            a.id: _alert_timeline(a.id, week.alert_logs.get(a.id, []), week.alert_notes.get(a.id, []))
            for a in alerts
        }
        incident_timelines = {
            str(raw["id"]): _incident_timeline(str(raw["id"]), week.timelines.get(str(raw["id"]), []))
            for raw in week.incidents
        }
        incidents = sorted(
            (_incident(raw, incident_timelines[str(raw["id"])]) for raw in week.incidents),
            key=lambda i: (i.created_at, i.id),
        )
        schedules = tuple(schedule_from_raw(raw) for raw in week.schedules)
        by_id = {str(raw["id"]): str(raw["name"]) for raw in week.schedules}
        turns = {by_id[sid]: tuple(ts) for sid, ts in week.turns.items() if sid in by_id}
        return cls(tuple(alerts), alert_timelines, tuple(incidents), incident_timelines, schedules, turns)


def _alert_timeline(
    alert_id: str, logs: Iterable[dict[str, Any]], notes: Iterable[dict[str, Any]]
) -> tuple[TimelineEntry, ...]:
    entries = [
        TimelineEntry(
            at=r["createdAt"],
            origin="alert-log",
            kind=r.get("type") or "log",
            text=r["log"],
            actor=r.get("owner") or None,
            ref=alert_id,
        )
        for r in logs
    ] + [
        TimelineEntry(
            at=r["createdAt"],
            origin="alert-note",
            kind="note",
            text=r["note"],
            actor=r.get("owner") or None,
            ref=alert_id,
        )
        for r in notes
    ]
    return tuple(sorted(entries, key=lambda e: e.at))


def _incident_timeline(incident_id: str, raws: Iterable[dict[str, Any]]) -> tuple[TimelineEntry, ...]:
    entries = [
        TimelineEntry(
            at=r["eventTime"],
            origin="incident",
            kind=r.get("type") or r.get("group", "entry"),
            text=(r.get("description") or {}).get("content") or r.get("title") or r.get("type", ""),
            actor=(r.get("actor") or {}).get("name"),
            ref=incident_id,
        )
        for r in raws
        if not r.get("hidden") and r.get("group", "incident") in ("custom", "incident")
    ]
    return tuple(sorted(entries, key=lambda e: e.at))


def _incident(raw: dict[str, Any], timeline: tuple[TimelineEntry, ...]) -> Incident:
    """The week's incident record; its resolve time is its timeline's, as the clients read it."""
    ends = [e.at for e in timeline if e.kind in _RESOLVING]
    resolved = min(ends) if ends and raw.get("status") in ("resolved", "closed") else None
    return Incident.model_validate(
        {
            "id": raw["id"],
            "tiny_id": raw.get("tinyId"),
            "message": raw["message"],
            "status": raw["status"],
            "priority": raw.get("priority", "P3"),
            "tags": tuple(raw.get("tags") or ()),
            "created_at": raw["createdAt"],
            "updated_at": raw.get("updatedAt"),
            "resolved_at": resolved,
            "owner": raw.get("owner") or None,
            "owner_team": raw.get("ownerTeam") or None,
            "responders": tuple(Responder(**r) for r in responders(raw.get("responders"))),
            "impacted_services": tuple(raw.get("impactedServices") or ()),
            "url": (raw.get("links") or {}).get("web"),
            "extra": dict(raw.get("extraProperties") or {}),
        }
    )


# What a source may lack, as each source's `lacks` names it, and how its absence looks in the models.
_BLANK_ALERT: Mapping[str, Callable[[Alert], dict[str, Any]]] = {
    "priority": lambda a: {"priority": None},
    "dedup count": lambda a: {"count": 1},
    "tags": lambda a: {"tags": ()},
}
_BLANK_INCIDENT: Mapping[str, Callable[[Incident], dict[str, Any]]] = {
    "priority": lambda i: {"priority": None},
    "tags": lambda i: {"tags": ()},
}


class MemorySource:
    """An AlertSource over a MemoryWeek. `name` is what the hand-off and logs call the source;
    `lacks` (a source's `SourceSpec.lacks`) blanks what that source does not record."""

    lists_carry_details = False  # as OpsGenie and JSM: a list answer has no description or details

    def __init__(
        self, week: MemoryWeek, *, name: str = "memory", lacks: Iterable[str] = (), title: str = SYSTEM
    ) -> None:
        unknown = sorted(set(lacks) - set(_BLANK_ALERT) - set(_BLANK_INCIDENT))
        if unknown:
            raise ValueError(
                f"MemorySource cannot yet leave out {', '.join(map(repr, unknown))}: "
                "say in oncall/sandbox/memory.py how its absence shows in the models"
            )
        self.name = name
        self.system = title
        self.lacks = tuple(lacks)
        self.calls: Counter[str] = Counter()
        self.failing: dict[str, OncallError] = {}  # method name -> the error it raises (a test's outage)
        self._lock = threading.Lock()
        self._alerts = tuple(self._blank_alert(a) for a in week.alerts)
        self._by_ref = {a.id: a for a in self._alerts} | {a.tiny_id: a for a in self._alerts if a.tiny_id}
        self._incidents = tuple(self._blank_incident(i) for i in week.incidents)
        self._incident_by_ref = {i.id: i for i in self._incidents} | {
            i.tiny_id: i for i in self._incidents if i.tiny_id
        }
        self.week = week

    @classmethod
    def seeded(
        cls, anchor: datetime | None = None, *, like: str | None = None, seed: int = 7
    ) -> MemorySource:
        """The sandbox's seeded week ending at `anchor`; `like` a registered source, with its lacks."""
        week = seeded_week(anchor, seed)
        if like is None:
            return cls(week)
        from oncall.sources import source_spec

        spec = source_spec(like)
        return cls(week, name=spec.name, lacks=spec.lacks, title=f"{SYSTEM} ({spec.title})")

    def _blank_alert(self, alert: Alert) -> Alert:
        update = {
            k: v for lack in self.lacks if lack in _BLANK_ALERT for k, v in _BLANK_ALERT[lack](alert).items()
        }
        return alert.model_copy(update=update) if update else alert

    def _blank_incident(self, incident: Incident) -> Incident:
        update = {
            k: v
            for lack in self.lacks
            if lack in _BLANK_INCIDENT
            for k, v in _BLANK_INCIDENT[lack](incident).items()
        }
        return incident.model_copy(update=update) if update else incident

    def _asked(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1
        if method in self.failing:
            raise self.failing[method]

    # -- alerts -----------------------------------------------------------------------------

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        self._asked("fetch_alerts")
        return [_listed(a) for a in self._alerts if _matches(a, query)]

    def get_alert(self, alert_id: str) -> Alert:
        self._asked("get_alert")
        ref = alert_id.strip().removeprefix("#")
        if ref not in self._by_ref:
            raise NotFoundError(self.system, f"alert {ref} was not found")
        return self._by_ref[ref]

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        self._asked("alert_timeline")
        if alert_id not in self.week.alert_timelines:
            raise NotFoundError(self.system, f"logs of alert {alert_id} were not found")
        return list(self.week.alert_timelines[alert_id])

    # -- incidents --------------------------------------------------------------------------

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        self._asked("fetch_incidents")
        return [i for i in self._incidents if window.contains(i.created_at)]

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        self._asked("fetch_resolved_incidents")
        return [
            i
            for i in self._incidents
            if i.status in ("resolved", "closed")
            and i.updated_at is not None
            and window.contains(i.updated_at)
            and i.created_at < window.end
            and (i.resolved_at is None or i.resolved_at < window.end)
        ]

    def get_incident(self, incident_id: str) -> Incident:
        self._asked("get_incident")
        ref = incident_id.strip().removeprefix("#")
        if ref not in self._incident_by_ref:
            raise NotFoundError(self.system, f"incident {ref} was not found")
        return self._incident_by_ref[ref]

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        self._asked("incident_timeline")
        if incident_id not in self.week.incident_timelines:
            raise NotFoundError(self.system, f"timeline of incident {incident_id} was not found")
        return list(self.week.incident_timelines[incident_id])

    # -- schedules --------------------------------------------------------------------------

    def list_schedules(self) -> list[Schedule]:
        self._asked("list_schedules")
        return list(self.week.schedules)

    def get_schedule(self, name: str) -> Schedule:
        self._asked("get_schedule")
        found = next((s for s in self.week.schedules if s.name == name), None)
        if found is None:
            known = ", ".join(sorted(s.name for s in self.week.schedules)) or "none"
            raise NotFoundError(self.system, f"schedule {name!r} was not found (schedules: {known})")
        return found

    def _turns(self, schedule: str) -> tuple[Turn, ...]:
        self.get_schedule(schedule)  # an unknown schedule is not found, as on every source
        return self.week.turns.get(schedule, ())

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        self._asked("on_call")
        people = _people(on_call_turns(list(self._turns(schedule)), at, at))
        return OnCall(schedule=schedule, at=at, people=people)

    def next_on_call(self, schedule: str, at: datetime) -> OnCall:
        """Who takes over when the earliest turn live at `at` ends."""
        self._asked("next_on_call")
        turns = list(self._turns(schedule))
        ends = [datetime.fromisoformat(t.end.replace("Z", "+00:00")) for t in on_call_turns(turns, at, at)]
        people = _people(on_call_turns(turns, min(ends), min(ends))) if ends else ()
        return OnCall(schedule=schedule, at=at, people=people)

    def check(self) -> str:
        self._asked("check")
        return f"{self.system}: {len(self._alerts)} alerts, {len(self.week.schedules)} schedule(s) in memory"

    def close(self) -> None:
        """Nothing to close: it holds no connection."""


def _people(turns: Iterable[Turn]) -> tuple[Person, ...]:
    return tuple(Person(id=t.user.get("id"), name=t.user["name"]) for t in turns)


def _listed(alert: Alert) -> Alert:
    """As a list answer shows it: without the description and details."""
    if alert.description is None and alert.details is None:
        return alert
    return alert.model_copy(update={"description": None, "details": None})


def _within(at: datetime | None, window: TimeWindow | None) -> bool:
    return window is None or (at is not None and window.contains(at))


def _matches(alert: Alert, q: AlertQuery) -> bool:
    return (
        _within(alert.created_at, q.created)
        and (q.created_before is None or alert.created_at < q.created_before)
        and _within(alert.updated_at, q.updated)
        and (not q.status or alert.status == q.status)
        and (not q.priorities or alert.priority in q.priorities)
        and all(tag in alert.tags for tag in q.tags)
    )


_SEEDED: dict[tuple[datetime | None, int], MemoryWeek] = {}


def seeded_week(anchor: datetime | None = None, seed: int = 7) -> MemoryWeek:
    """The sandbox's seeded week ending at `anchor` (its default anchor if None), read once per process."""
    key = (anchor, seed)
    if key not in _SEEDED:
        from oncall.sandbox.seed import DEFAULT_ANCHOR, seed_week

        _SEEDED[key] = MemoryWeek.from_week(seed_week(anchor or DEFAULT_ANCHOR, seed))
    return _SEEDED[key]
