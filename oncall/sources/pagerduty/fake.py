"""A fake PagerDuty REST API v2: classic paging with its 10,000 cap, PagerDuty's error bodies and
rate-limit headers, incidents, their alerts, log entries and notes, schedules and on-call.

Shapes follow PagerDuty's published OpenAPI description (`fixtures/specs/pagerduty-openapiv3.json`);
tests validate the answers against its schemas. What the spec leaves out comes from PagerDuty's
own answers as its users report them:
- offset + limit past 10,000 is a 400, `{"error": {"message": "Arguments Caused Error",
  "code": 2002, "errors": ["Offset+limit exceeds maximum allowed value of 10000. ..."]}}`;
- every answer carries `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (seconds
  until the window resets); a 429 says to wait that long, and sends no Retry-After;
- `since`..`until` spans at most 6 months, and filters on creation time;
- `limit` above 100 is served as 100.
`throttle` and `fail` make the fake itself answer 429 or an error, as PagerDuty does.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sandbox.week import on_call_turns

API = "https://api.pagerduty.com"  # the `self` links, as PagerDuty writes them
WEB = f"{SANDBOX_WEB}/pagerduty"
CAP = 10_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_RANGE = timedelta(days=183)  # "Maximum range is 6 months"
RATE_LIMIT = 960  # requests a minute for one API key
CAP_TEXT = (
    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to reduce "
    "the returned set of records below this number, like adding a date range."
)
# PagerDuty's error codes for each status (its "Errors" reference); the 400s name their own.
ERRORS = {
    400: ("Invalid Input Provided", 2001),
    401: ("Authentication failed", 2006),
    402: ("Account does not have the abilities to perform the action", 2012),
    403: ("Access Denied", 2010),
    404: ("Not Found", 2100),
    429: ("Rate Limit Exceeded", 2020),
    500: ("Internal Error", 2000),
}


def _at(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def error_body(
    status: int, *details: str, message: str | None = None, code: int | None = None
) -> dict[str, Any]:
    """PagerDuty's error document: `{"error": {"message", "code", "errors": [...]}}`."""
    known, number = ERRORS.get(status, ERRORS[500] if status >= 500 else ERRORS[400])
    body: dict[str, Any] = {"message": message or known, "code": code if code is not None else number}
    if details:
        body["errors"] = list(details)
    return {"error": body}


def rate_headers(remaining: int = RATE_LIMIT - 1, reset: int = 60) -> dict[str, str]:
    return {
        "ratelimit-limit": str(RATE_LIMIT),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(reset),
    }


@dataclass
class State:
    api_token: str = "sandbox-pagerduty-token"
    me: str | None = None  # the token's user id; None: an account-level key (GET /users/me is a 400)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> user
    services: list[dict[str, Any]] = field(default_factory=list)
    priorities: list[dict[str, Any]] = field(default_factory=list)  # most severe first; [] = urgency only
    incidents: list[dict[str, Any]] = field(default_factory=list)  # oldest first (`set_incidents`)
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # incident id -> its alerts
    log_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # incident id -> entries
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # incident id -> notes
    schedules: list[dict[str, Any]] = field(default_factory=list)
    turns: dict[str, list[Any]] = field(
        default_factory=dict
    )  # schedule id -> `Turn`s (user id in user["id"])
    abilities: list[str] = field(default_factory=lambda: ["teams", "urgencies", "incident_types"])
    throttle: int = 0  # the next this many requests answer 429
    fail: list[tuple[str, int]] = field(
        default_factory=list
    )  # (path prefix, status): the next matching request fails
    _keys: list[datetime] = field(default_factory=list)
    _by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    _feed: list[dict[str, Any]] = field(default_factory=list)
    _feed_keys: list[datetime] = field(default_factory=list)

    def set_incidents(self, incidents: list[dict[str, Any]]) -> None:
        self.incidents = sorted(incidents, key=lambda i: (_at(i["created_at"]), i["id"]))
        self._keys = [_at(i["created_at"]) for i in self.incidents]
        self._by_id = {i["id"]: i for i in self.incidents}
        self.index_log()

    def index_log(self) -> None:
        """The account-wide log, oldest first, for `GET /log_entries`."""
        self._feed = sorted(
            (e for entries in self.log_entries.values() for e in entries),
            key=lambda e: (e["created_at"], e["id"]),
        )
        self._feed_keys = [_at(e["created_at"]) for e in self._feed]

    def incident(self, ref: str) -> dict[str, Any] | None:
        """By id, or by incident number (as `GET /incidents/{id}` takes either)."""
        found = self._by_id.get(ref)
        if found is None and ref.isdigit():
            found = next((i for i in self.incidents if i.get("incident_number") == int(ref)), None)
        return found


class _Refused(Exception):
    def __init__(
        self, status: int, *details: str, message: str | None = None, code: int | None = None
    ) -> None:
        super().__init__(status)
        self.status, self.body = status, error_body(status, *details, message=message, code=code)


def _answer(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**rate_headers(), **(headers or {})})


def _int(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    if not value.strip().lstrip("-").isdigit():
        raise _Refused(400, f"{name} must be an integer")
    return int(value)


def _paged(request: Request, key: str, items: list[dict[str, Any]]) -> JSONResponse:
    """A classic page: `limit` (at most 100), `offset`, `more`, and `total` only when asked."""
    limit = min(max(_int(request, "limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
    offset = _int(request, "offset", 0)
    if offset < 0:
        raise _Refused(400, "offset must not be negative")
    if offset + limit > CAP:
        raise _Refused(400, CAP_TEXT, message="Arguments Caused Error", code=2002)
    total = request.query_params.get("total", "false").lower() == "true"
    return _answer(
        {
            key: items[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if total else None,
        }
    )


def _range(request: Request, default: timedelta = timedelta(days=30)) -> tuple[datetime, datetime]:
    """`since`/`until` (until defaults to now, since to a month before it), at most 6 months apart."""
    q = request.query_params
    try:
        until = _at(q["until"]) if q.get("until") else datetime.now(UTC)
        since = _at(q["since"]) if q.get("since") else until - default
    except ValueError:
        raise _Refused(400, "Invalid 'since' or 'until' parameter values", code=2004) from None
    if until < since:
        raise _Refused(400, "'until' must be after 'since'", message="Invalid Query Date Range", code=2005)
    if until - since > MAX_RANGE:
        raise _Refused(
            400,
            "The maximum range of 6 months has been exceeded",
            message="Invalid Query Date Range",
            code=2005,
        )
    return since, until


def app(state: State) -> Router:
    Handler = Callable[[Request], Awaitable[JSONResponse]]

    def endpoint(fn: Callable[[Request], JSONResponse]) -> Handler:
        async def handler(request: Request) -> JSONResponse:
            if request.headers.get("authorization", "") != f"Token token={state.api_token}":
                return _answer(error_body(401), 401)
            if state.throttle > 0:
                state.throttle -= 1
                return _answer(error_body(429), 429, rate_headers(remaining=0, reset=1))
            path = request.url.path.removeprefix(request.scope.get("root_path", ""))
            for n, (prefix, status) in enumerate(state.fail):
                if path.startswith(prefix):
                    del state.fail[n]
                    return _answer(error_body(status), status)
            try:
                return fn(request)
            except _Refused as exc:
                return _answer(exc.body, exc.status)

        return handler

    def served(incident: dict[str, Any], request: Request) -> dict[str, Any]:
        """An incident as listed: full priority objects only with `include[]=priorities`."""
        includes = set(request.query_params.getlist("include[]"))
        if "priorities" in includes and isinstance(incident.get("priority"), dict):
            full = next((p for p in state.priorities if p["id"] == incident["priority"]["id"]), None)
            if full is not None:
                return {**incident, "priority": full}
        return incident

    def list_incidents(request: Request) -> JSONResponse:
        q = request.query_params
        statuses = set(q.getlist("statuses[]"))
        if statuses - {"triggered", "acknowledged", "resolved"}:
            raise _Refused(400, "statuses[] must be triggered, acknowledged or resolved")
        services = set(q.getlist("service_ids[]"))
        if q.get("date_range") == "all":
            lo, hi = 0, len(state.incidents)
        else:
            since, until = _range(request)
            lo, hi = bisect.bisect_left(state._keys, since), bisect.bisect_left(state._keys, until)
        found = [
            i
            for i in state.incidents[lo:hi]
            if (not statuses or i["status"] in statuses)
            and (not services or i["service"]["id"] in services)
            and (not q.get("incident_key") or i.get("incident_key") == q["incident_key"])
        ]
        sort = q.get("sort_by", "created_at")
        if sort.endswith(":desc"):
            found = found[::-1]
        return _paged(request, "incidents", [served(i, request) for i in found])

    def get_incident(request: Request) -> JSONResponse:
        found = state.incident(request.path_params["id"])
        if found is None:
            raise _Refused(404)
        return _answer({"incident": served(found, request)})

    def of_incident(
        key: str, table: dict[str, list[dict[str, Any]]], paged: bool = True
    ) -> Callable[[Request], JSONResponse]:
        def answer(request: Request) -> JSONResponse:
            # by id only: an incident number finds the incident itself, not what hangs under it
            found = state._by_id.get(request.path_params["id"])
            if found is None:
                raise _Refused(404)
            items = table.get(found["id"], [])
            return _paged(request, key, items) if paged else _answer({key: items})

        return answer

    def account_log(request: Request) -> JSONResponse:
        since, until = _range(request)
        lo, hi = bisect.bisect_left(state._feed_keys, since), bisect.bisect_left(state._feed_keys, until)
        found = state._feed[lo:hi]
        if request.query_params.get("is_overview", "false").lower() == "true":
            found = [e for e in found if e["type"] in _OVERVIEW]
        return _paged(request, "log_entries", found)

    def priorities(request: Request) -> JSONResponse:
        return _paged(request, "priorities", state.priorities)

    def services(request: Request) -> JSONResponse:
        return _paged(request, "services", state.services)

    def schedules(request: Request) -> JSONResponse:
        query = (request.query_params.get("query") or "").lower()
        found = [{k: v for k, v in s.items() if k != "schedule_layers"} for s in state.schedules]
        return _paged(request, "schedules", [s for s in found if query in s["name"].lower()])

    def get_schedule(request: Request) -> JSONResponse:
        found = next((s for s in state.schedules if s["id"] == request.path_params["id"]), None)
        if found is None:
            raise _Refused(404)
        return _answer({"schedule": found})

    def oncalls(request: Request) -> JSONResponse:
        """On-call entries overlapping [since, until] (an instant when equal), overrides applied."""
        q = request.query_params
        since, until = _range(request, default=timedelta(0))
        wanted = set(q.getlist("schedule_ids[]"))
        with_users = "users" in q.getlist("include[]")
        out = []
        for sch in state.schedules:
            if wanted and sch["id"] not in wanted:
                continue
            for t in on_call_turns(state.turns.get(sch["id"], []), since, until):
                user = state.users[t.user["id"]]
                out.append(
                    {
                        "escalation_policy": ref("escalation_policy", "PEPOPS1", "Ops escalation"),
                        "escalation_level": 1,
                        "schedule": ref("schedule", sch["id"], sch["name"]),
                        "user": user if with_users else ref("user", user["id"], user["name"]),
                        "start": t.start,
                        "end": t.end,
                    }
                )
        return _paged(request, "oncalls", out)

    def user(request: Request) -> JSONResponse:
        found = state.users.get(request.path_params["id"])
        if found is None:
            raise _Refused(404)
        return _answer({"user": found})

    def me(request: Request) -> JSONResponse:
        if state.me is None:
            raise _Refused(
                400, "This endpoint requires a user-level API key", message="Invalid Input Provided"
            )
        return _answer({"user": state.users[state.me]})

    def abilities(request: Request) -> JSONResponse:
        return _answer({"abilities": state.abilities})

    return Router(
        routes=[
            Route("/incidents", endpoint(list_incidents)),
            Route("/incidents/{id}", endpoint(get_incident)),
            Route("/incidents/{id}/alerts", endpoint(of_incident("alerts", state.alerts))),
            Route("/incidents/{id}/log_entries", endpoint(of_incident("log_entries", state.log_entries))),
            Route("/incidents/{id}/notes", endpoint(of_incident("notes", state.notes, paged=False))),
            Route("/log_entries", endpoint(account_log)),
            Route("/priorities", endpoint(priorities)),
            Route("/services", endpoint(services)),
            Route("/schedules", endpoint(schedules)),
            Route("/schedules/{id}", endpoint(get_schedule)),
            Route("/oncalls", endpoint(oncalls)),
            Route("/users/me", endpoint(me)),
            Route("/users/{id}", endpoint(user)),
            Route("/abilities", endpoint(abilities)),
        ]
    )


# What `is_overview=true` keeps: the entries that change an incident's state.
_OVERVIEW = {
    "trigger_log_entry",
    "acknowledge_log_entry",
    "unacknowledge_log_entry",
    "resolve_log_entry",
    "escalate_log_entry",
    "assign_log_entry",
    "delegate_log_entry",
    "urgency_change_log_entry",
}


def ref(kind: str, ident: str, summary: str) -> dict[str, Any]:
    """A reference to another record, as PagerDuty embeds them (`user_reference`, ...)."""
    plural = {"escalation_policy": "escalation_policies", "priority": "priorities"}.get(kind, f"{kind}s")
    return {
        "id": ident,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{plural}/{ident}",
        "html_url": f"{WEB}/{plural}/{ident}",
    }
