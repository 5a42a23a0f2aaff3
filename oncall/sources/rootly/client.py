"""Rootly's REST API (JSON:API) as an AlertSource: alerts, incidents and their events, schedules, on-call.

Rootly's quirks stay here: Bearer auth, `page[number]`/`page[size]` paging with totals in
`meta`, filters as `filter[field][op]`, a 429 body of `{"error": ...}` with the reset time in
`X-RateLimit-Reset`, and deep page numbers refused, so big windows are split by creation
time. Alert lists carry no acknowledgement time; it comes from the alert-event feed
(`action=acknowledged`), read once per listing rather than once per alert.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from oncall.clients.http import ApiClient
from oncall.clients.records import iso, parse_record, parse_records, require_list
from oncall.errors import MalformedError, NotFoundError
from oncall.models import (
    Alert,
    AlertQuery,
    Incident,
    OnCall,
    Person,
    Schedule,
    TimelineEntry,
    TimeWindow,
)
from oncall.sources.base import HttpOptions, SourceClient, concurrency, connect, from_settings, named
from oncall.sources.paging import every_page
from oncall.sources.rootly.records import (
    OPEN_STATUSES,
    alert_from_resource,
    event_from_resource,
    incident_from_resource,
    schedule_from_resources,
)

if TYPE_CHECKING:
    from oncall.settings import Settings

BASE_URL = "https://api.rootly.com"
SYSTEM = "Rootly"
PAGE = 100
DEEP_CAP = 10_000  # page[number] * page[size] past this is refused ("offset pagination exceeds limit")
FEED_PAGE = 50  # the alert-event feed's documented maximum

Ack = tuple[datetime, str | None]


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_filters(q: AlertQuery, window: TimeWindow | None = None) -> dict[str, str]:
    """Rootly filter parameters for what the query asks of the server (priority and tags are client-side)."""
    params: dict[str, str] = {}
    created = window or q.created
    if created is not None:
        params["filter[created_at][gte]"] = _stamp(created.start)
        params["filter[created_at][lt]"] = _stamp(created.end)
    if q.created_before is not None and window is None:
        params["filter[created_at][lt]"] = _stamp(q.created_before)
    if q.updated is not None:
        params["filter[updated_at][gte]"] = _stamp(q.updated.start)
        params["filter[updated_at][lt]"] = _stamp(q.updated.end)
    if q.status == "open":
        params["filter[status][in]"] = ",".join(OPEN_STATUSES)
    elif q.status == "closed":
        params["filter[status][eq]"] = "resolved"
    return params


def _rate_reset(response: httpx.Response) -> float | None:
    """Seconds until `X-RateLimit-Reset` (epoch seconds), Rootly's only hint on a 429."""
    reset = response.headers.get("x-ratelimit-reset")
    if reset is None or not reset.strip().isdigit():
        return None
    return max(0.0, min(60.0, int(reset) - time.time()))


class RootlySource(SourceClient):
    """AlertSource over Rootly. `base_url` points it at a proxy or the sandbox."""

    name = "rootly"
    lists_carry_details = True  # an alert list holds `data` and `description`: no alert read adds them

    def __init__(
        self,
        api_token: str,
        *,
        base_url: str | None = None,
        **http: Unpack[HttpOptions],
    ) -> None:
        self.concurrency = concurrency(http)
        headers = {"Authorization": f"Bearer {api_token}", "Accept": "application/vnd.api+json"}
        self.api = connect(
            self.name, SYSTEM, base_url or BASE_URL, {"headers": headers, "retry_hint": _rate_reset}, http
        )
        self._schedule_list: list[dict[str, Any]] | None = None

    def _clients(self) -> list[ApiClient]:
        return [self.api]

    def _get(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        body = self.api.get_json(path, params=params, what=what)
        if not isinstance(body, dict):
            raise MalformedError(SYSTEM, f"{what}: the response is not a JSON:API document")
        return body

    def _numbered(self, path: str, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every resource of a `page[number]` listing, page after page."""
        number = 1
        while True:
            body = self._get(
                path, {**params, "page[number]": number, "page[size]": PAGE}, f"{what} page {number}"
            )
            yield from require_list(SYSTEM, body, "data", what)
            nxt = (body.get("meta") or {}).get("next_page")
            if not nxt:
                return
            if not str(nxt).isdigit() or int(nxt) <= number:
                raise MalformedError(
                    SYSTEM, f"{what}: meta.next_page {str(nxt)[:20]!r} does not move on; stopped"
                )
            number = int(nxt)

    # -- alerts -----------------------------------------------------------------------------

    def _alert_page(self, params: dict[str, str], number: int, size: int = PAGE) -> dict[str, Any]:
        what = f"alerts page {number}"
        return self._get("/v1/alerts", {**params, "page[number]": number, "page[size]": size}, what)

    def _total(self, body: dict[str, Any], what: str) -> int:
        try:
            return int(body["meta"]["total_count"])
        except (KeyError, TypeError, ValueError):
            raise MalformedError(SYSTEM, f"{what}: response has no meta.total_count") from None

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        bodies = every_page(
            query,
            lambda w, i, size: self._alert_page(alert_filters(query, w), i + 1, size),
            lambda body: self._total(body, "alerts page"),
            cap=DEEP_CAP,
            size=PAGE,
            concurrency=self.concurrency,
            system=SYSTEM,
        )
        raws = {
            r["id"]: r
            for b in bodies
            for r in require_list(SYSTEM, b, "data", "alerts")
            if isinstance(r, dict)
        }
        acks = self._acks(raws.values())
        alerts = parse_records(
            SYSTEM, "alert", raws.values(), lambda r: alert_from_resource(r, acks.get(r["id"]))
        )
        alerts = [a for a in alerts if all(t in a.tags for t in query.tags)]
        if query.priorities:  # Rootly alerts have no priority: none can match
            alerts = [a for a in alerts if a.priority in query.priorities]
        return sorted(alerts, key=lambda a: (a.created_at, a.id))

    def _acks(self, raws: Any) -> dict[str, Ack]:
        """First acknowledgement per alert, from the event feed over the alerts' lifetime."""
        created = [
            iso(r["attributes"].get("created_at")) for r in raws if isinstance(r.get("attributes"), dict)
        ]
        updated = [
            iso(r["attributes"].get("updated_at")) for r in raws if isinstance(r.get("attributes"), dict)
        ]
        starts = [t for t in created if t is not None]
        ends = [t for t in updated + created if t is not None]
        if not starts:
            return {}
        params: dict[str, Any] = {
            "filter[action]": "acknowledged",
            "filter[created_at][gte]": _stamp(min(starts)),
            "filter[created_at][lte]": _stamp(max(ends) + timedelta(seconds=1)),
            "sort": "created_at",
            "page[size]": FEED_PAGE,
        }
        acks: dict[str, Ack] = {}
        while True:
            body = self._get("/v1/alert_events", params, "alert acknowledgements")
            for ev in require_list(SYSTEM, body, "data", "alert acknowledgements"):
                a = ev.get("attributes") if isinstance(ev, dict) else None
                if not isinstance(a, dict) or a.get("alert_id") in acks or not a.get("created_at"):
                    continue
                user = a.get("user") or {}
                at = iso(a["created_at"])
                assert at is not None
                acks[str(a["alert_id"])] = (at, user.get("email") or user.get("name"))
            cursor = (body.get("meta") or {}).get("next_cursor")
            if not cursor:
                return acks
            if cursor == params.get("page[after]"):
                raise MalformedError(
                    SYSTEM, f"alert acknowledgements: next_cursor {str(cursor)[:40]!r} repeats; stopped"
                )
            params = {**params, "page[after]": cursor}

    def get_alert(self, alert_id: str) -> Alert:
        body = self._get(f"/v1/alerts/{alert_id}", {}, f"alert {alert_id}")
        acks = [e for e in self._alert_events(alert_id) if e.kind == "acknowledged"]
        ack = (acks[0].at, acks[0].actor) if acks else None
        return parse_record(SYSTEM, "alert", body.get("data"), lambda r: alert_from_resource(r, ack))

    def _alert_events(self, alert_id: str) -> list[TimelineEntry]:
        def entry(r: dict[str, Any]) -> TimelineEntry:
            a = r["attributes"]
            at = iso(a["created_at"])
            assert at is not None
            user = a.get("user") or {}
            note = a.get("kind") == "note"
            return TimelineEntry(
                at=at,
                origin="alert-note" if note else "alert-log",
                kind="note" if note else a["action"],
                text=a.get("details") or f"Alert {a['action']}",
                actor=user.get("email") or user.get("name"),
                ref=alert_id,
            )

        what = f"events of alert {alert_id}"
        return [
            parse_record(SYSTEM, "alert event", r, entry)
            for r in self._numbered(f"/v1/alerts/{alert_id}/events", {}, what)
        ]

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        return sorted(self._alert_events(alert_id), key=lambda e: e.at)

    # -- incidents --------------------------------------------------------------------------

    def _incidents(self, params: dict[str, Any]) -> list[Incident]:
        raws = self._numbered("/v1/incidents", {**params, "sort": "started_at"}, "incidents")
        return parse_records(SYSTEM, "incident", raws, incident_from_resource)

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        return self._incidents(
            {"filter[started_at][gte]": _stamp(window.start), "filter[started_at][lt]": _stamp(window.end)}
        )

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        found = self._incidents(
            {
                "filter[status][in]": "resolved,closed",
                "filter[updated_at][gte]": _stamp(window.start),
                "filter[updated_at][lt]": _stamp(window.end),
            }
        )
        return [i for i in found if i.resolved_at is None or i.resolved_at < window.end]

    def get_incident(self, incident_id: str) -> Incident:
        """By id or slug, or by the sequential id the hand-off and Rootly's UI show (`101`,
        `#101`). `GET /v1/incidents/{id}` takes a UUID or a slug only, so a number is looked
        up with the list's `filter[sequential_id]`."""
        ref = incident_id.strip().removeprefix("#")
        if ref.isdigit():
            what = f"incident {ref}"
            body = self._get("/v1/incidents", {"filter[sequential_id]": ref, "page[size]": 1}, what)
            found = require_list(SYSTEM, body, "data", what)
            if not found:
                raise NotFoundError(SYSTEM, f"{what} was not found (no incident has sequential id {ref})")
            return parse_record(SYSTEM, "incident", found[0], incident_from_resource)
        body = self._get(f"/v1/incidents/{ref}", {}, f"incident {ref}")
        return parse_record(SYSTEM, "incident", body.get("data"), incident_from_resource)

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        what = f"events of incident {incident_id}"
        entries = [
            parse_record(SYSTEM, "incident event", r, lambda r: event_from_resource(r, incident_id))
            for r in self._numbered(f"/v1/incidents/{incident_id}/events", {}, what)
        ]
        return sorted(entries, key=lambda e: e.at)

    # -- schedules --------------------------------------------------------------------------

    def _schedule_resources(self) -> list[dict[str, Any]]:
        """The schedules, read once per source: a hand-off looks one up three times."""
        if self._schedule_list is None:
            found = self._numbered("/v1/schedules", {}, "schedules")
            self._schedule_list = [r for r in found if isinstance(r, dict)]
        return self._schedule_list

    def _complete_schedule(self, res: dict[str, Any]) -> Schedule:
        rotations = list(
            self._numbered(f"/v1/schedules/{res['id']}/schedule_rotations", {}, f"rotations of {res['id']}")
        )
        return parse_record(SYSTEM, "schedule", res, lambda r: schedule_from_resources(r, rotations))

    def list_schedules(self) -> list[Schedule]:
        return [self._complete_schedule(r) for r in self._schedule_resources()]

    def _schedule(self, name: str) -> dict[str, Any]:
        return named(
            SYSTEM, self._schedule_resources(), name, lambda r: (r.get("attributes") or {}).get("name")
        )

    def get_schedule(self, name: str) -> Schedule:
        return self._complete_schedule(self._schedule(name))

    def _on_call_entries(self, schedule: str, at: datetime) -> tuple[list[Person], list[datetime]]:
        params = {
            "filter[schedule_ids]": self._schedule(schedule)["id"],
            "since": _stamp(at),
            "until": _stamp(at),
            "include": "user",
        }
        what = f"on-call of schedule {schedule!r}"
        body = self._get("/v1/oncalls", params, what)
        users = {
            str(u.get("id")): u.get("attributes") or {}
            for u in body.get("included") or ()
            if isinstance(u, dict) and u.get("type") == "users"
        }
        people: list[Person] = []
        ends: list[datetime] = []
        for item in require_list(SYSTEM, body, "data", what):
            a = item.get("attributes") if isinstance(item, dict) else None
            if not isinstance(a, dict):
                raise MalformedError(SYSTEM, f"{what}: an entry has no attributes")
            user = users.get(str(a.get("user_id")), {})
            name = user.get("email") or user.get("full_name") or str(a.get("user_id"))
            if all(p.name != name for p in people):
                people.append(Person(id=str(a.get("user_id")), name=name))
            end = iso(a.get("ends_at"))
            if end is not None:
                ends.append(end)
        return people, ends

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        people, _ = self._on_call_entries(schedule, at)
        return OnCall(schedule=schedule, at=at, people=tuple(people))

    def next_on_call(self, schedule: str, at: datetime) -> OnCall:
        _, ends = self._on_call_entries(schedule, at)
        if not ends:
            return OnCall(schedule=schedule, at=at)
        people, _ = self._on_call_entries(schedule, min(ends))
        return OnCall(schedule=schedule, at=min(ends), people=tuple(people))

    def check(self) -> str:
        body = self._get("/v1/users/me", {}, "the token's user")
        email = ((body.get("data") or {}).get("attributes") or {}).get("email", "?")
        return f"Rootly at {self.api.http.base_url}: token accepted (user {email})"


def build(settings: Settings, http: HttpOptions) -> RootlySource:
    """The registry's `build` for Rootly: the token and `base_url` from the settings."""
    return from_settings("rootly", RootlySource, settings, http)
