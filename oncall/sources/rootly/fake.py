"""A fake Rootly REST API: JSON:API documents, `page[number]`/`page[size]` paging, filters, errors.

Shapes follow the vendor's OpenAPI spec (`fixtures/specs/rootly-openapi.json`); tests validate
the responses against its schemas. An unknown `filter[...]` is a 400 here, so a client that
drifts from the documented filters fails loudly instead of silently reading everything.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import public_base
from oncall.sandbox.week import Turn, on_call_turns
from oncall.sources.rootly import API_TOKEN

MEDIA = "application/vnd.api+json"
DEEP_CAP = 10_000
MAX_PAGE = 100
FEED_MAX = 50
_TIME_OPS = ("gt", "gte", "lt", "lte")


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@dataclass
class State:
    api_token: str = API_TOKEN
    me: int = 1
    users: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> user attributes
    alerts: list[dict[str, Any]] = field(default_factory=list)  # resources, oldest first
    alert_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # alert id -> resources
    incidents: list[dict[str, Any]] = field(default_factory=list)
    incident_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    rotations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # schedule id -> resources
    turns: dict[str, list[Turn]] = field(default_factory=dict)  # schedule id -> turns (user id in user["id"])
    _keys: list[datetime] = field(default_factory=list)

    def set_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self.alerts = sorted(alerts, key=lambda a: (_at(a["attributes"]["created_at"]), a["id"]))
        self._keys = [_at(a["attributes"]["created_at"]) for a in self.alerts]

    def feed(self) -> list[dict[str, Any]]:
        return sorted(
            (e for events in self.alert_events.values() for e in events),
            key=lambda e: (e["attributes"]["created_at"], e["id"]),
        )


class _BadRequest(Exception):
    pass


def _errors(status: int, title: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"title": title, "status": str(status), "code": None, "detail": detail}]},
        status_code=status,
        media_type=MEDIA,
    )


def _doc(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, media_type=MEDIA)


def _as_served(event: dict[str, Any]) -> dict[str, Any]:
    """An alert event as Rootly serves it: one no person made has no `user` key.

    The spec lets `user` be absent (it is not in `required`) or null (`nullable`); the official
    SDK, generated from that spec, reads only its absence and fails on null, so the vendor's
    answers omit it. The client reads both (`rootly_records`).
    """
    attrs = event["attributes"]
    if "user" in attrs and attrs["user"] is None:
        return {**event, "attributes": {k: v for k, v in attrs.items() if k != "user"}}
    return event


def _filters(request: Request, allowed: set[str]) -> list[Callable[[dict[str, Any]], bool]]:
    """Predicates on a resource's attributes for every `filter[...]` parameter."""
    preds: list[Callable[[dict[str, Any]], bool]] = []
    for key, value in request.query_params.items():
        if not key.startswith("filter["):
            continue
        parts = key[len("filter[") : -1].split("][")
        name, op = parts[0], (parts[1] if len(parts) > 1 else "eq")
        if name not in allowed:
            raise _BadRequest(f"filter[{name}] is not a supported filter")
        if op in _TIME_OPS:
            try:
                bound = _at(value)
            except ValueError:
                raise _BadRequest(f"{key} must be an ISO-8601 time") from None
            cmp = {
                "gt": lambda v, b: v > b,
                "gte": lambda v, b: v >= b,
                "lt": lambda v, b: v < b,
                "lte": lambda v, b: v <= b,
            }[op]
            preds.append(
                lambda a, n=name, b=bound, c=cmp: a.get(n) is not None and c(_at(a[n]), b)  # type: ignore[misc]
            )
        elif op in ("eq", "in"):
            values = set(value.split(","))
            preds.append(lambda a, n=name, vs=values: str(a.get(n)) in vs)  # type: ignore[misc]
        elif op in ("not_eq", "not_in"):
            values = set(value.split(","))
            preds.append(lambda a, n=name, vs=values: str(a.get(n)) not in vs)  # type: ignore[misc]
        else:
            raise _BadRequest(f"{key}: unknown operator {op!r}")
    return preds


def _page_args(request: Request, default: int = 20, maximum: int = MAX_PAGE) -> tuple[int, int]:
    try:
        number = int(request.query_params.get("page[number]", "1"))
        size = int(request.query_params.get("page[size]", str(default)))
    except ValueError:
        raise _BadRequest("page[number] and page[size] must be integers") from None
    if number < 1 or size < 1:
        raise _BadRequest("page[number] and page[size] must be positive")
    return number, min(size, maximum)


def _paged(request: Request, items: list[dict[str, Any]], **extra: Any) -> JSONResponse:
    """A numbered page with JSON:API `links` (absolute) and Rootly's `meta` totals."""
    number, size = _page_args(request)
    if (number - 1) * size + size > DEEP_CAP:
        raise _BadRequest("offset pagination exceeds limit")
    pages = max(1, math.ceil(len(items) / size))
    base = f"{public_base(request)}{request.url.path.removeprefix(request.scope.get('root_path', ''))}?"
    params = {k: v for k, v in request.query_params.items() if k not in ("page[number]", "page[size]")}

    def link(n: int) -> str:
        return base + urlencode({**params, "page[number]": n, "page[size]": size})

    return _doc(
        {
            "data": items[(number - 1) * size : number * size],
            **extra,
            "links": {
                "self": link(number),
                "first": link(1),
                "prev": link(number - 1) if number > 1 else None,
                "next": link(number + 1) if number < pages else None,
                "last": link(pages),
            },
            "meta": {
                "current_page": number,
                "next_page": number + 1 if number < pages else None,
                "prev_page": number - 1 if number > 1 else None,
                "total_count": len(items),
                "total_pages": pages,
            },
        }
    )


def app(state: State) -> Router:
    Handler = Callable[[Request], Awaitable[JSONResponse]]

    def endpoint(fn: Callable[[Request], JSONResponse]) -> Handler:
        async def handler(request: Request) -> JSONResponse:
            header = request.headers.get("authorization", "")
            if header != f"Bearer {state.api_token}":
                return _errors(401, "Unauthorized", "Invalid API token")
            try:
                return fn(request)
            except _BadRequest as exc:
                return _errors(400, str(exc))

        return handler

    def user_resource(uid: int) -> dict[str, Any]:
        return {"id": str(uid), "type": "users", "attributes": state.users[uid]}

    def list_alerts(request: Request) -> JSONResponse:
        preds = _filters(request, {"status", "created_at", "updated_at", "started_at", "ended_at", "source"})
        lo, hi = 0, len(state.alerts)  # the created_at bounds narrow by bisection; the filters check the rest
        q = request.query_params
        for op in ("gte", "gt"):
            if (v := q.get(f"filter[created_at][{op}]")) is not None:
                lo = bisect.bisect_left(state._keys, _at(v))
        for op in ("lt", "lte"):
            if (v := q.get(f"filter[created_at][{op}]")) is not None:
                hi = bisect.bisect_right(state._keys, _at(v))
        found = [a for a in state.alerts[lo:hi] if all(p(a["attributes"]) for p in preds)]
        return _paged(request, found)

    def get_alert(request: Request) -> JSONResponse:
        ident = request.path_params["id"]
        alert = next((a for a in state.alerts if a["id"] == ident), None)
        if alert is None:
            return _errors(404, "Record not found")
        return _doc({"data": alert})

    def alert_events(request: Request) -> JSONResponse:
        ident = request.path_params["alert_id"]
        if all(a["id"] != ident for a in state.alerts):
            return _errors(404, "Record not found")
        preds = _filters(request, {"kind", "action"})
        return _paged(
            request,
            [
                _as_served(e)
                for e in state.alert_events.get(ident, [])
                if all(p(e["attributes"]) for p in preds)
            ],
        )

    def event_feed(request: Request) -> JSONResponse:
        """The cross-alert feed: cursor paging only (`page[after]` from `meta.next_cursor`)."""
        preds = _filters(request, {"kind", "action", "alert_id", "created_at"})
        try:
            size = min(int(request.query_params.get("page[size]", "20")), FEED_MAX)
            after = int(request.query_params.get("page[after]", "0"))
        except ValueError:
            raise _BadRequest("page[size] and page[after] must be integers") from None
        found = [e for e in state.feed() if all(p(e["attributes"]) for p in preds)]
        if request.query_params.get("sort", "created_at") == "-created_at":
            found.reverse()
        page = [_as_served(e) for e in found[after : after + size]]
        more = after + size < len(found)
        return _doc(
            {
                "data": page,
                "links": {
                    "self": str(request.url),
                    "first": str(request.url.remove_query_params("page[after]")),
                    "prev": None,
                    "next": str(request.url.include_query_params(**{"page[after]": after + size}))
                    if more
                    else None,
                    "last": None,
                },
                "meta": {"next_cursor": str(after + size) if more else None},
            }
        )

    def list_incidents(request: Request) -> JSONResponse:
        times = ["created_at", "updated_at", "started_at", "detected_at", "acknowledged_at"]
        preds = _filters(
            request,
            {"status", "severity", "sequential_id", *times, "mitigated_at", "resolved_at", "closed_at"},
        )
        found = [i for i in state.incidents if all(p(i["attributes"]) for p in preds)]
        sort = request.query_params.get("sort", "-created_at")
        key = sort.lstrip("-")
        found.sort(key=lambda i: i["attributes"].get(key) or "", reverse=sort.startswith("-"))
        return _paged(request, found)

    def get_incident(request: Request) -> JSONResponse:
        ident = request.path_params["id"]
        found = next((i for i in state.incidents if ident in (i["id"], i["attributes"]["slug"])), None)
        if found is None:
            return _errors(404, "Record not found")
        return _doc({"data": found})

    def incident_events(request: Request) -> JSONResponse:
        ident = request.path_params["incident_id"]
        if ident not in state.incident_events:
            return _errors(404, "Record not found")
        return _paged(request, state.incident_events[ident])

    def schedule(ident: str) -> dict[str, Any] | None:
        return next((s for s in state.schedules if s["id"] == ident), None)

    def list_schedules(request: Request) -> JSONResponse:
        _filters(request, {"name"})
        return _paged(request, state.schedules)

    def get_schedule(request: Request) -> JSONResponse:
        found = schedule(request.path_params["id"])
        return _errors(404, "Record not found") if found is None else _doc({"data": found})

    def rotations(request: Request) -> JSONResponse:
        ident = request.path_params["schedule_id"]
        if schedule(ident) is None:
            return _errors(404, "Record not found")
        return _paged(request, state.rotations.get(ident, []))

    def oncalls(request: Request) -> JSONResponse:
        """On-call entries overlapping [since, until], overrides applied as Rootly resolves them."""
        try:
            since = _at(request.query_params["since"])
            until = _at(request.query_params.get("until") or request.query_params["since"])
        except (KeyError, ValueError):
            raise _BadRequest("since and until must be ISO-8601 times") from None
        wanted = set(filter(None, (request.query_params.get("filter[schedule_ids]") or "").split(",")))
        data, users = [], set()
        for sch in state.schedules:
            if wanted and sch["id"] not in wanted:
                continue
            for t in on_call_turns(state.turns.get(sch["id"], []), since, until):
                uid = int(t.user["id"])
                users.add(uid)
                data.append(
                    {
                        "id": f"oc-{sch['id']}-{uid}-{t.start}",
                        "type": "on_call_resources",
                        "attributes": {
                            "escalation_policy_id": "ep-ops",
                            "escalation_policy_name": "Ops escalation",
                            "escalation_level": 1,
                            "schedule_id": sch["id"],
                            "schedule_name": sch["attributes"]["name"],
                            "user_id": uid,
                            "starts_at": t.start,
                            "ends_at": t.end,
                        },
                    }
                )
        body: dict[str, Any] = {"data": data}
        if "user" in (request.query_params.get("include") or "").split(","):
            body["included"] = [user_resource(u) for u in sorted(users)]
        return _doc(body)

    def me(request: Request) -> JSONResponse:
        return _doc({"data": user_resource(state.me)})

    return Router(
        routes=[
            Route("/v1/alerts", endpoint(list_alerts)),
            Route("/v1/alerts/{id}", endpoint(get_alert)),
            Route("/v1/alerts/{alert_id}/events", endpoint(alert_events)),
            Route("/v1/alert_events", endpoint(event_feed)),
            Route("/v1/incidents", endpoint(list_incidents)),
            Route("/v1/incidents/{id}", endpoint(get_incident)),
            Route("/v1/incidents/{incident_id}/events", endpoint(incident_events)),
            Route("/v1/schedules", endpoint(list_schedules)),
            Route("/v1/schedules/{id}", endpoint(get_schedule)),
            Route("/v1/schedules/{schedule_id}/schedule_rotations", endpoint(rotations)),
            Route("/v1/oncalls", endpoint(oncalls)),
            Route("/v1/users/me", endpoint(me)),
        ]
    )
