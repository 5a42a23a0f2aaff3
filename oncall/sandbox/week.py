"""The seeded week's records, in the alert shape OpsGenie defined and JSM Operations kept.

The sandbox's scenario is one week of alerts, their logs and notes, incidents with timelines,
schedules and on-call turns. `seed.py` writes it once; each source's fake serves it in its own
shapes (its `FakeSpec.seed`). OpsGenie's and JSM's fakes serve these records almost as they are,
so the store and its query answers live here, owned by neither: removing one leaves the other.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from oncall.sandbox.query import Query, compile_query

_LIST_ONLY_DROP = ("description", "details", "actions", "entity")


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Turn:
    """One person's on-call turn; overrides win over rotation turns."""

    start: str
    end: str
    user: dict[str, str]
    override: bool = False


def on_call_turns(turns: list[Turn], since: datetime, until: datetime) -> list[Turn]:
    """Turns live during [since, until] (an instant when equal); an override hides the turns it covers."""
    live = [
        t
        for t in turns
        if epoch_ms(t.start) <= until.timestamp() * 1000 and since.timestamp() * 1000 < epoch_ms(t.end)
    ]
    return [t for t in live if t.override] or live


@dataclass
class Week:
    """Alerts, logs, notes, incidents, timelines, schedules and turns; list and query helpers."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alert_notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    timelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    turns: dict[str, list[Turn]] = field(default_factory=dict)  # schedule id -> turns
    _keys: list[tuple[int, str]] = field(default_factory=list)
    _listed: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> what a list answer shows
    _cache: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _incident_index: tuple[int, int, list[tuple[int, str]], list[dict[str, Any]]] | None = None

    def set_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self.alerts = sorted(alerts, key=lambda a: (epoch_ms(a["createdAt"]), a["id"]))
        self._keys = [(epoch_ms(a["createdAt"]), a["id"]) for a in self.alerts]
        # computed once: a 50,000-alert week is paged often
        self._listed = {
            a["id"]: {k: v for k, v in a.items() if k not in _LIST_ONLY_DROP} for a in self.alerts
        }
        self._cache.clear()

    def list_view(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The alerts as a list answer shows them (without description, details, actions, entity)."""
        return [self._listed[a["id"]] for a in alerts]

    def matching(self, query: str | None) -> list[dict[str, Any]]:
        """Alerts matching `query`, oldest first; memoised per query string for paging."""
        key = query or ""
        if key in self._cache:
            return self._cache[key]
        q = compile_query(query)
        lo = bisect.bisect_left(self._keys, (q.created_from, "")) if q.created_from is not None else 0
        hi = (
            bisect.bisect_left(self._keys, (q.created_until, ""))
            if q.created_until is not None
            else len(self._keys)
        )
        found = self.alerts[lo:hi] if q.rest is None else [a for a in self.alerts[lo:hi] if q.rest(a)]
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = found
        return found

    def matching_incidents(self, q: Query) -> list[dict[str, Any]]:
        """Incidents matching `q`, oldest first; bisected on createdAt as alerts are."""
        stamp = (id(self.incidents), len(self.incidents))
        if self._incident_index is None or self._incident_index[:2] != stamp:
            ordered = sorted(self.incidents, key=lambda i: (epoch_ms(i["createdAt"]), i["id"]))
            self._incident_index = (*stamp, [(epoch_ms(i["createdAt"]), i["id"]) for i in ordered], ordered)
        keys, ordered = self._incident_index[2], self._incident_index[3]
        lo = bisect.bisect_left(keys, (q.created_from, "")) if q.created_from is not None else 0
        hi = bisect.bisect_left(keys, (q.created_until, "")) if q.created_until is not None else len(keys)
        return ordered[lo:hi] if q.rest is None else [i for i in ordered[lo:hi] if q.rest(i)]
