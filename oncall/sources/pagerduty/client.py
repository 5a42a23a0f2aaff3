"""PagerDuty's REST API v2 as an AlertSource: incidents (the pages), major incidents, log entries,
schedules and on-call.

PagerDuty's quirks stay here:
- `Authorization: Token token=...` and `Accept: application/json`;
- classic paging (`limit` up to 100, `offset`, `more`), refused past offset + limit = 10,000
  (400, code 2002), so a listing that holds more is split by creation time (`paging.py`);
- `since`/`until` filter on creation and may span 6 months at most: a query with no lower bound
  reads the last `LOOKBACK` before its upper one;
- a listed incident keeps its acknowledgements only while it is acknowledged, so acknowledgement
  and resolve agents come from the account's log entries, read once per listing;
- a 429 says in `ratelimit-reset` how many seconds to wait (no Retry-After);
- users are references: each id is resolved once (`GET /users/{id}`) to the email the other
  sources show.
Major incidents are the incidents of one incident type (`pagerduty_incident_type`); every other
incident is an alert.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from oncall.clients.http import ApiClient
from oncall.clients.records import parse_record, parse_records, require_list
from oncall.errors import AuthError, MalformedError, NotFoundError, RejectedError
from oncall.models import Alert, AlertQuery, Incident, OnCall, Person, Schedule, TimelineEntry, TimeWindow
from oncall.sources.base import HttpOptions, SourceClient, concurrency, connect, from_settings, named
from oncall.sources.pagerduty.records import (
    Ack,
    Priorities,
    alert_from_incident,
    entry_from_log,
    entry_from_note,
    incident_from_record,
    on_call_person,
    person,
    schedule_from_record,
)
from oncall.sources.paging import fetch_by_offset

if TYPE_CHECKING:
    from oncall.settings import Settings

BASE_URL = "https://api.pagerduty.com"
SYSTEM = "PagerDuty"
PAGE = 100  # classic paging's maximum `limit`
CAP = 10_000  # offset + limit past this is a 400 ("Offset+limit exceeds maximum allowed value of 10000")
LOOKBACK = timedelta(days=180)  # `since`..`until` may span 6 months at most
RESOLVE_LOOKBACK = timedelta(days=30)  # incidents resolved in a window were created at most this long before
MAJOR_TYPE = "major_incident"
OPEN = ("triggered", "acknowledged")


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rate_reset(response: httpx.Response) -> float | None:
    """Seconds to wait, from `ratelimit-reset`: PagerDuty's only hint on a 429. Every answer
    carries the header (when the current window ends), so only a 429's is a wait."""
    if response.status_code != 429:
        return None
    value = response.headers.get("ratelimit-reset", "").strip()
    try:
        return max(0.0, min(60.0, float(value)))
    except ValueError:
        return None


def _kind(raw: dict[str, Any]) -> str | None:
    kind = raw.get("incident_type")
    return str(kind.get("name")) if isinstance(kind, dict) and kind.get("name") else None


class PagerDutySource(SourceClient):
    """AlertSource over PagerDuty. `base_url` points it at the EU service region, a proxy or the sandbox."""

    name = "pagerduty"
    lists_carry_details = False  # an incident list holds no alert bodies: details take one read per alert

    def __init__(
        self,
        api_token: str,
        *,
        base_url: str | None = None,
        incident_type: str = MAJOR_TYPE,
        **http: Unpack[HttpOptions],
    ) -> None:
        self.concurrency = concurrency(http)
        self.incident_type = incident_type
        headers = {"Authorization": f"Token token={api_token}", "Accept": "application/json"}
        vendor = {"headers": headers, "retry_hint": _rate_reset}
        self.api = connect(self.name, SYSTEM, base_url or BASE_URL, vendor, http)
        self._lock = threading.Lock()
        self._priorities: Priorities | None = None
        self._emails: dict[str, str | None] = {}
        self._schedule_list: list[dict[str, Any]] | None = None

    def _clients(self) -> list[ApiClient]:
        return [self.api]

    def _get(self, path: str, params: dict[str, Any], what: str) -> dict[str, Any]:
        return _document(self.api.get_json(path, params=params, what=what), what)

    def _classic(self, path: str, key: str, params: dict[str, Any], what: str) -> Iterator[Any]:
        """Every record of a small classic-paged listing, page after page, while `more` says so."""
        offset = 0
        while True:
            body = self._get(path, {**params, "limit": PAGE, "offset": offset}, f"{what} from {offset}")
            items = require_list(SYSTEM, body, key, what)
            yield from items
            if body.get("more") is not True or not items:
                return
            offset += len(items)
            if offset + PAGE > CAP:
                raise MalformedError(SYSTEM, f"{what}: more than {CAP} records; narrow the request")

    # -- accounts: priorities and users --------------------------------------------------------

    def priorities(self) -> Priorities:
        """The account's priorities, read once; none (or no priorities ability, 402) means urgency only."""
        with self._lock:
            if self._priorities is None:
                try:
                    found = list(self._classic("/priorities", "priorities", {}, "priorities"))
                except RejectedError as exc:
                    if exc.status != 402:
                        raise
                    found = []
                self._priorities = Priorities.from_list(found)
            return self._priorities

    def _email(self, ref: Any) -> str | None:
        """A user reference's email, resolved by id once per source (a week names the same few people)."""
        if not isinstance(ref, dict) or not ref.get("id"):
            return None
        if ref.get("email"):
            return str(ref["email"])
        uid = str(ref["id"])
        if uid not in self._emails:
            try:
                user = self._get(f"/users/{uid}", {}, f"user {uid}").get("user") or {}
            except NotFoundError:  # a deleted user: their name in the reference is all there is
                user = {}
            self._emails[uid] = str(user["email"]) if isinstance(user, dict) and user.get("email") else None
        return self._emails[uid]

    def _resolve_users(self, raws: Any) -> None:
        """Every user the records name, resolved concurrently before the records are built."""
        ids: set[str] = set()

        def walk(value: Any, depth: int = 0) -> None:
            if depth > 4:
                return
            if isinstance(value, dict):
                if (
                    str(value.get("type", "")).startswith("user")
                    and value.get("id")
                    and not value.get("email")
                ):
                    ids.add(str(value["id"]))
                for v in value.values():
                    walk(v, depth + 1)
            elif isinstance(value, list):
                for v in value:
                    walk(v, depth + 1)

        walk(list(raws))
        todo = sorted(ids - set(self._emails))
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="pagerduty") as pool:
            list(pool.map(lambda uid: self._email({"id": uid, "type": "user_reference"}), todo))

    # -- incidents, listed ---------------------------------------------------------------------

    def _incident_params(self, statuses: tuple[str, ...]) -> dict[str, Any]:
        params: dict[str, Any] = {"sort_by": "created_at"}
        if statuses:
            params["statuses[]"] = list(statuses)
        return params

    def _listing(self, window: TimeWindow, statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every incident created in `window`, however many: split by creation time past the cap."""
        found: list[dict[str, Any]] = []
        for part in _six_months(window):
            found += self._offset_listing("/incidents", "incidents", part, self._incident_params(statuses))
        return found

    def _offset_listing(
        self, path: str, key: str, window: TimeWindow, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """A classic-paged listing over `window` (at most 6 months), split by time past the cap."""

        def bounded(sub: TimeWindow | None) -> dict[str, Any]:
            w = sub or window
            return {**params, "since": stamp(w.start), "until": stamp(w.end)}

        def count(sub: TimeWindow | None) -> int:
            body = self._get(path, {**bounded(sub), "limit": 1, "total": "true"}, f"{key} count")
            total = body.get("total")
            if not isinstance(total, int) or isinstance(total, bool):
                raise MalformedError(SYSTEM, f"{key} count: the answer has no total")
            return total

        def page(sub: TimeWindow | None, offset: int) -> list[dict[str, Any]]:
            what = f"{key} from {offset}"
            body = self._get(path, {**bounded(sub), "limit": PAGE, "offset": offset}, what)
            return [r for r in require_list(SYSTEM, body, key, what) if isinstance(r, dict)]

        return fetch_by_offset(
            count,
            page,
            lambda: window,
            cap=CAP,
            size=PAGE,
            concurrency=self.concurrency,
            system=SYSTEM,
        )

    def _log_facts(self, raws: list[dict[str, Any]]) -> tuple[dict[str, Ack], dict[str, str | None]]:
        """First acknowledgement and the resolver per incident, from the account's log entries over
        the incidents' lifetime (one listing, split like any other, instead of one read per incident)."""
        starts = [t for r in raws if (t := _time(r.get("created_at"))) is not None]
        ends = [
            t
            for r in raws
            if (t := _time(r.get("last_status_change_at") or r.get("resolved_at") or r.get("created_at")))
        ]
        if not starts:  # none has a readable time: parsing the records names them
            return {}, {}
        lo, hi = min(starts), max(ends) + timedelta(seconds=1)
        wanted = {str(r.get("id")) for r in raws}
        window = TimeWindow(start=lo, end=max(hi, lo + timedelta(seconds=1)))

        entries: list[dict[str, Any]] = []
        for part in _six_months(window):
            entries += self._offset_listing("/log_entries", "log_entries", part, {"is_overview": "true"})
        entries = [
            e
            for e in entries
            if e.get("type") in ("acknowledge_log_entry", "resolve_log_entry")
            and str((e.get("incident") or {}).get("id")) in wanted
        ]
        self._resolve_users(e.get("agent") for e in entries)
        acks: dict[str, Ack] = {}
        resolvers: dict[str, str | None] = {}
        for e in sorted(entries, key=lambda e: str(e.get("created_at"))):
            inc = str(e["incident"]["id"])
            who = person(e.get("agent"), self._email)
            if e["type"] == "acknowledge_log_entry" and inc not in acks:
                at = _at(e["created_at"])
                acks[inc] = (at, who)
            elif e["type"] == "resolve_log_entry":
                resolvers[inc] = who
        return acks, resolvers

    # -- alerts ----------------------------------------------------------------------------------

    def fetch_alerts(self, query: AlertQuery) -> list[Alert]:
        window = _alert_window(query)
        statuses = OPEN if query.status == "open" else ("resolved",) if query.status == "closed" else ()
        raws = [r for r in self._listing(window, statuses) if _kind(r) != self.incident_type]
        if query.created_before is not None and query.created is None:
            raws = [r for r in raws if _before(r, query.created_before)]
        priorities = self.priorities()
        self._resolve_users(raws)
        acks, resolvers = self._log_facts(raws)
        alerts = parse_records(
            SYSTEM,
            "incident",
            raws,
            lambda r: alert_from_incident(
                r, priorities, self._email, acks.get(r["id"]), resolvers.get(r["id"])
            ),
        )
        if query.updated is not None:
            alerts = [a for a in alerts if a.updated_at is not None and query.updated.contains(a.updated_at)]
        if query.priorities:
            alerts = [a for a in alerts if a.priority in query.priorities]
        alerts = [a for a in alerts if all(t in a.tags for t in query.tags)]  # PagerDuty has no tags
        return sorted(alerts, key=lambda a: (a.created_at, a.id))

    def _incident(self, incident_id: str) -> dict[str, Any]:
        ref = incident_id.strip().removeprefix("#")
        body = self._get(f"/incidents/{ref}", {}, f"incident {ref}")
        raw = body.get("incident")
        if not isinstance(raw, dict):
            raise MalformedError(SYSTEM, f"incident {ref}: the answer has no incident")
        return raw

    def _alerts_of(self, incident_id: str) -> list[dict[str, Any]]:
        what = f"alerts of incident {incident_id}"
        return [
            a
            for a in self._classic(f"/incidents/{incident_id}/alerts", "alerts", {}, what)
            if isinstance(a, dict)
        ]

    def _log_entries(self, incident_id: str) -> list[dict[str, Any]]:
        what = f"log entries of incident {incident_id}"
        return [
            e
            for e in self._classic(f"/incidents/{incident_id}/log_entries", "log_entries", {}, what)
            if isinstance(e, dict)
        ]

    def get_alert(self, alert_id: str) -> Alert:
        """By id or number (`101`, `#101`), with its first alert's dedup key and details."""
        raw = self._incident(alert_id)
        ident = str(raw.get("id"))
        alerts = self._alerts_of(ident)
        entries = self._log_entries(ident)
        self._resolve_users([raw, *entries])
        acks = sorted(
            (e for e in entries if e.get("type") == "acknowledge_log_entry"),
            key=lambda e: str(e.get("created_at")),
        )
        resolves = [e for e in entries if e.get("type") == "resolve_log_entry"]
        ack = (_at(acks[0]["created_at"]), person(acks[0].get("agent"), self._email)) if acks else None
        closed_by = person(resolves[-1].get("agent"), self._email) if resolves else None
        first = min(alerts, key=lambda a: str(a.get("created_at")), default=None)
        priorities = self.priorities()
        return parse_record(
            SYSTEM,
            "incident",
            raw,
            lambda r: alert_from_incident(r, priorities, self._email, ack, closed_by, first),
        )

    def alert_timeline(self, alert_id: str) -> list[TimelineEntry]:
        """Its log entries and its notes (a note's own log entry is left out: the note says it)."""
        ident = str(self._incident(alert_id).get("id"))
        entries = [e for e in self._log_entries(ident) if e.get("type") != "annotate_log_entry"]
        what = f"notes of incident {ident}"
        notes = require_list(SYSTEM, self._get(f"/incidents/{ident}/notes", {}, what), "notes", what)
        self._resolve_users([*entries, *notes])
        out = parse_records(
            SYSTEM, "log entry", entries, lambda r: entry_from_log(r, "alert-log", ident, self._email)
        )
        out += parse_records(SYSTEM, "note", notes, lambda r: entry_from_note(r, ident, self._email))
        return sorted(out, key=lambda e: e.at)

    # -- incidents ---------------------------------------------------------------------------

    def _majors(self, raws: list[dict[str, Any]]) -> list[Incident]:
        majors = [r for r in raws if _kind(r) == self.incident_type]
        priorities = self.priorities()
        self._resolve_users(majors)
        return parse_records(
            SYSTEM, "incident", majors, lambda r: incident_from_record(r, priorities, self._email)
        )

    def fetch_incidents(self, window: TimeWindow) -> list[Incident]:
        return sorted(self._majors(self._listing(window)), key=lambda i: (i.created_at, i.id))

    def fetch_resolved_incidents(self, window: TimeWindow) -> list[Incident]:
        """Resolved within `window`: `since`/`until` filter on creation, so the listing reaches back
        `RESOLVE_LOOKBACK` before the window and keeps what was resolved inside it."""
        reach = TimeWindow(start=window.start - RESOLVE_LOOKBACK, end=window.end)
        found = self._majors(self._listing(reach, ("resolved",)))
        return [i for i in found if i.resolved_at is not None and window.contains(i.resolved_at)]

    def get_incident(self, incident_id: str) -> Incident:
        """By id, or by the number PagerDuty's UI and the hand-off show (`101`, `#101`)."""
        raw = self._incident(incident_id)
        priorities = self.priorities()
        self._resolve_users([raw])
        return parse_record(
            SYSTEM, "incident", raw, lambda r: incident_from_record(r, priorities, self._email)
        )

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        ident = str(self._incident(incident_id).get("id"))
        entries = self._log_entries(ident)
        self._resolve_users(entries)
        out = parse_records(
            SYSTEM, "log entry", entries, lambda r: entry_from_log(r, "incident", ident, self._email)
        )
        return sorted(out, key=lambda e: e.at)

    # -- schedules ---------------------------------------------------------------------------

    def _schedules(self) -> list[dict[str, Any]]:
        """The schedules, read once per source: a hand-off looks one up three times."""
        if self._schedule_list is None:
            self._schedule_list = [
                s for s in self._classic("/schedules", "schedules", {}, "schedules") if isinstance(s, dict)
            ]
        return self._schedule_list

    def _schedule(self, name: str) -> dict[str, Any]:
        return named(SYSTEM, self._schedules(), name, lambda r: r.get("name"))

    def _complete_schedule(self, ref: dict[str, Any]) -> Schedule:
        sid = str(ref.get("id"))
        raw = self._get(f"/schedules/{sid}", {}, f"schedule {sid}").get("schedule")
        self._resolve_users([raw])
        return parse_record(SYSTEM, "schedule", raw, lambda r: schedule_from_record(r, self._email))

    def list_schedules(self) -> list[Schedule]:
        return [self._complete_schedule(s) for s in self._schedules()]

    def get_schedule(self, name: str) -> Schedule:
        return self._complete_schedule(self._schedule(name))

    def _on_call(self, schedule: str, at: datetime) -> tuple[OnCall, list[datetime]]:
        sid = str(self._schedule(schedule)["id"])
        params = {"schedule_ids[]": [sid], "since": stamp(at), "until": stamp(at)}
        what = f"on-call of schedule {schedule!r}"
        found = [o for o in self._classic("/oncalls", "oncalls", params, what) if isinstance(o, dict)]
        found = [o for o in found if str((o.get("schedule") or {}).get("id")) == sid]
        self._resolve_users(o.get("user") for o in found)
        people: list[Person] = []
        for p in parse_records(SYSTEM, "on-call entry", found, lambda r: on_call_person(r, self._email)):
            if all(q.name != p.name for q in people):
                people.append(p)
        ends = [_at(o["end"]) for o in found if o.get("end")]
        return OnCall(schedule=schedule, at=at, people=tuple(people)), ends

    def on_call(self, schedule: str, at: datetime) -> OnCall:
        return self._on_call(schedule, at)[0]

    def next_on_call(self, schedule: str, at: datetime) -> OnCall:
        _, ends = self._on_call(schedule, at)
        if not ends:
            return OnCall(schedule=schedule, at=at)
        return self._on_call(schedule, min(ends))[0]

    def check(self) -> str:
        """How many services the key sees (any key may count them), then the token's user if it
        has one: an account-level key has none, and `/users/me` refuses it (400, or 403)."""
        body = self._get("/services", {"limit": 1, "total": "true"}, "the services visible")
        services = f"{body.get('total')} service(s) visible"
        try:
            user = self._get("/users/me", {}, "the token's user").get("user") or {}
            who = f"user {user.get('email', '?')}"
        except (RejectedError, AuthError) as exc:
            if exc.status not in (400, 403):
                raise
            who = "an account key"
        return f"PagerDuty at {self.api.http.base_url}: token accepted ({who}), {services}"


def _at(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no zone")
    return parsed


def build(settings: Settings, http: HttpOptions) -> PagerDutySource:
    """The registry's `build` for PagerDuty: the token, `base_url` and `incident_type` from the settings."""
    return from_settings("pagerduty", PagerDutySource, settings, http)


def _document(body: Any, what: str) -> dict[str, Any]:
    """Every PagerDuty answer is one JSON object (the record, or a page with its list)."""
    if not isinstance(body, dict):
        raise MalformedError(SYSTEM, f"{what}: the answer is not a JSON object")
    return body


def _time(value: Any) -> datetime | None:
    try:
        return _at(value) if value else None
    except ValueError:
        return None


def _before(raw: dict[str, Any], bound: datetime) -> bool:
    try:
        return _at(raw.get("created_at")) < bound
    except ValueError:
        return True  # kept, so parsing names the bad record


def _alert_window(query: AlertQuery) -> TimeWindow:
    """The creation window to list: the query's; for a last-change window, the `RESOLVE_LOOKBACK`
    before it (changes are filtered after); else the `LOOKBACK` before its upper bound (or now)."""
    if query.created is not None:
        return query.created
    if query.updated is not None:
        end = min(query.updated.end, query.created_before or query.updated.end)
        return TimeWindow(start=query.updated.start - RESOLVE_LOOKBACK, end=end)
    end = query.created_before or datetime.now(UTC)
    return TimeWindow(start=end - LOOKBACK, end=end)


def _six_months(window: TimeWindow) -> list[TimeWindow]:
    """`window` in consecutive parts PagerDuty accepts as one since..until range."""
    parts, start = [], window.start
    while start < window.end:
        end = min(window.end, start + LOOKBACK)
        parts.append(TimeWindow(start=start, end=end))
        start = end
    return parts
