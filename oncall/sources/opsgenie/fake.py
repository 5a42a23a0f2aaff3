"""A fake OpsGenie REST API with the vendor's paths, envelopes, caps and error bodies.

Shapes follow the official spec (`fixtures/specs/opsgenie-swagger.json`); tests validate the
responses against its definitions. Records are stored as raw vendor JSON.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.query import QueryError, compile_query
from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import public_base
from oncall.sandbox.week import Week, epoch_ms, on_call_turns
from oncall.sources.opsgenie import API_KEY
from oncall.sources.opsgenie.fake_create import create_alert, create_errors

OFFSET_CAP = 20_000


@dataclass
class State(Week):
    """The seeded week as OpsGenie's API holds it, with the key it accepts and its async requests."""

    api_key: str = API_KEY
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> its status


def _envelope(data: Any, started: float, **extra: Any) -> dict[str, Any]:
    return {
        "data": data,
        **extra,
        "took": round(time.perf_counter() - started, 3),
        "requestId": str(uuid.uuid4()),
    }


ALERT_ID_TYPES = ("id", "alias", "tiny")  # the spec's AlertIdentifierType


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    body = {"message": message, **extra, "took": 0.0, "requestId": str(uuid.uuid4())}
    return JSONResponse(body, status_code=status)


def _paging(request: Request, path: str, offset: int, limit: int, total: int) -> dict[str, str]:
    """`first`, `last` and (while one is left under the cap) `next`, each with every query parameter."""
    params = urlencode([(k, v) for k, v in request.query_params.items() if k not in ("offset", "limit")])
    base = f"{public_base(request)}{path}?{params}{'&' if params else ''}"
    paging = {
        "first": f"{base}offset=0&limit={limit}",
        "last": f"{base}offset={max(total - 1, 0) // limit * limit}&limit={limit}",
    }
    if offset + limit < total and offset + 2 * limit < OFFSET_CAP:
        paging["next"] = f"{base}offset={offset + limit}&limit={limit}"
    return paging


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None


def app(state: State) -> Router:
    def authed(request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("GenieKey "):
            return _error(401, "Key format is not valid!")
        if header.removeprefix("GenieKey ") != state.api_key:
            return _error(401, "Could not authenticate")
        return None

    def find(items: list[dict[str, Any]], ident: str, id_type: str) -> dict[str, Any] | None:
        key = {"id": "id", "tiny": "tinyId", "alias": "alias"}[id_type]
        return next((a for a in items if str(a.get(key)) == ident), None)

    def id_type(request: Request, allowed: tuple[str, ...]) -> str | JSONResponse:
        """The `identifierType` asked for (default `id`), or the 422 OpsGenie gives a semantic
        error when it is not one the spec lists (AlertIdentifierType: id, alias, tiny;
        IncidentIdentifierType: id, tiny)."""
        wanted = request.query_params.get("identifierType", "id")
        if wanted not in allowed:
            return _error(422, f"identifierType {wanted!r} is not one of: {', '.join(allowed)}")
        return wanted

    async def alerts(request: Request) -> JSONResponse:
        if request.method == "POST":
            return await post_alert(request)
        return await list_alerts(request)

    async def post_alert(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Invalid JSON body")
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON body")
        if errors := create_errors(body):
            return _error(422, "Request body is not processable. Please check the errors.", errors=errors)
        host = request.client.host if request.client else "127.0.0.1"
        request_id = create_alert(state, body, now=datetime.now(UTC), source=host)
        took = round(time.perf_counter() - started, 3)
        return JSONResponse(
            {"result": "Request will be processed", "took": took, "requestId": request_id}, status_code=202
        )

    async def request_status(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        found = state.requests.get(request.path_params["request_id"])
        if found is None:
            return _error(404, "Request does not exist")
        return JSONResponse(_envelope(found, started))

    async def list_alerts(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        try:
            offset, limit = _int(request, "offset", 0), _int(request, "limit", 20)
            if not 1 <= limit <= 100:
                return _error(422, "Limit should be between 1 and 100")
            if offset < 0 or offset + limit >= OFFSET_CAP:
                return _error(422, f"Sum of offset and limit should be lower than {OFFSET_CAP}")
            query = request.query_params.get("query")
            found = state.matching(query)
        except QueryError as exc:
            return _error(422, str(exc))
        sort = request.query_params.get("sort", "createdAt")
        if sort != "createdAt":
            found = sorted(found, key=lambda a: str(a.get(sort, "")))
        if request.query_params.get("order", "desc") == "desc":
            found = found[::-1]
        page = state.list_view(found[offset : offset + limit])
        paging = _paging(request, "/v2/alerts", offset, limit, len(found))
        return JSONResponse(_envelope(page, started, paging=paging))

    async def count_alerts(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        try:
            n = len(state.matching(request.query_params.get("query")))
        except QueryError as exc:
            return _error(422, str(exc))
        return JSONResponse(_envelope({"count": n}, started))

    async def get_alert(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        ident = request.path_params["ident"]
        if isinstance(kind := id_type(request, ALERT_ID_TYPES), JSONResponse):
            return kind
        alert = find(state.alerts, ident, kind)
        if alert is None:
            return _error(404, "Alert does not exist")
        return JSONResponse(_envelope(alert, started))

    def cursor_list(source: dict[str, list[dict[str, Any]]]):  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> JSONResponse:
            started = time.perf_counter()
            if (denied := authed(request)) is not None:
                return denied
            ident = request.path_params["ident"]
            if isinstance(kind := id_type(request, ALERT_ID_TYPES), JSONResponse):
                return kind
            if find(state.alerts, ident, kind) is None:
                return _error(404, "Alert does not exist")
            items = source.get(ident, [])
            try:
                limit = _int(request, "limit", 20)
            except QueryError as exc:
                return _error(422, str(exc))
            if not 1 <= limit <= 100:
                return _error(422, "Limit should be between 1 and 100")
            after = request.query_params.get("offset")
            start = 0
            if after:
                start = next((i + 1 for i, it in enumerate(items) if it["offset"] == after), len(items))
            page = items[start : start + limit]
            paging = {}
            if start + limit < len(items):
                paging["next"] = (
                    f"{request.url}".split("?")[0] + f"?offset={page[-1]['offset']}&direction=next"
                )
            return JSONResponse(_envelope(page, started, paging=paging))

        return handler

    async def list_incidents(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        query = request.query_params.get("query")
        if not query:
            return _error(422, "query is required")
        try:
            q = compile_query(query)
            offset, limit = _int(request, "offset", 0), _int(request, "limit", 20)
        except QueryError as exc:
            return _error(422, str(exc))
        if not 1 <= limit <= 100:
            return _error(422, "Limit should be between 1 and 100")
        if offset < 0 or offset + limit >= OFFSET_CAP:
            return _error(422, f"Sum of offset and limit should be lower than {OFFSET_CAP}")
        found = state.matching_incidents(q)
        if request.query_params.get("order", "desc") == "desc":
            found = found[::-1]
        paging = _paging(request, "/v1/incidents", offset, limit, len(found))
        return JSONResponse(_envelope(found[offset : offset + limit], started, paging=paging))

    async def get_incident(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        if isinstance(kind := id_type(request, ("id", "tiny")), JSONResponse):  # no alias for incidents
            return kind
        found = find(state.incidents, request.path_params["ident"], kind)
        if found is None:
            return _error(404, "Incident does not exist")
        return JSONResponse(_envelope(found, started))

    async def timeline(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        ident = request.path_params["ident"]
        if ident not in state.timelines:
            return _error(404, "Incident timeline does not exist")
        try:
            limit = _int(request, "limit", 20)
        except QueryError as exc:
            return _error(422, str(exc))
        if not 1 <= limit <= 20:
            return _error(422, "limit must be between 1 and 20")
        groups = set((request.query_params.get("group") or "custom,incident").split(","))
        entries = [e for e in state.timelines[ident] if e["group"] in groups]
        start = int(request.query_params.get("offset") or 0)
        page = entries[start : start + limit]
        data: dict[str, Any] = {"entries": page}
        if start + limit < len(entries):
            data["nextOffset"] = str(start + limit)
        return JSONResponse(_envelope(data, started))

    def schedule_of(request: Request, type_param: str) -> dict[str, Any] | None:
        ident = request.path_params["ident"]
        key = "name" if request.query_params.get(type_param, "id") == "name" else "id"
        return next((s for s in state.schedules if s[key] == ident), None)

    async def list_schedules(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        expand = "rotation" in (request.query_params.get("expand") or "")
        data = [s if expand else {k: v for k, v in s.items() if k != "rotations"} for s in state.schedules]
        return JSONResponse(_envelope(data, started, expandable=["rotation"]))

    async def get_schedule(request: Request) -> JSONResponse:
        started = time.perf_counter()
        if (denied := authed(request)) is not None:
            return denied
        schedule = schedule_of(request, "identifierType")
        if schedule is None:
            return _error(
                404, "Schedule with identifier [{}] does not exist".format(request.path_params["ident"])
            )
        return JSONResponse(_envelope(schedule, started))

    def on_call_at(schedule: dict[str, Any], at_ms: int) -> list[dict[str, str]]:
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        chosen = on_call_turns(state.turns.get(schedule["id"], []), at, at)
        return [{"id": t.user["id"], "name": t.user["name"], "type": "user"} for t in chosen]

    def who(kind: str):  # type: ignore[no-untyped-def]
        async def handler(request: Request) -> JSONResponse:
            started = time.perf_counter()
            if (denied := authed(request)) is not None:
                return denied
            schedule = schedule_of(request, "scheduleIdentifierType")
            if schedule is None:
                return _error(
                    404, "Schedule with identifier [{}] does not exist".format(request.path_params["ident"])
                )
            date = request.query_params.get("date")
            try:
                at_ms = epoch_ms(date) if date else int(time.time() * 1000)
            except ValueError:
                return _error(422, f"date {date} is not ISO-8601 (escape + as %2B)")
            flat = request.query_params.get("flat") == "true"
            parent = {
                "id": schedule["id"],
                "name": schedule["name"],
                "enabled": schedule.get("enabled", True),
            }
            now_people = on_call_at(schedule, at_ms)
            if kind == "on-calls":
                key, people = (
                    ("onCallRecipients", [p["name"] for p in now_people])
                    if flat
                    else ("onCallParticipants", now_people)
                )
            else:
                ends = [
                    epoch_ms(t.end)
                    for t in state.turns.get(schedule["id"], [])
                    if epoch_ms(t.start) <= at_ms < epoch_ms(t.end)
                ]
                nxt = on_call_at(schedule, min(ends)) if ends else []
                key, people = (
                    ("nextOnCallParticipants", [p["name"] for p in nxt])
                    if flat
                    else ("nextOnCallRecipients", nxt)
                )
            return JSONResponse(_envelope({"_parent": parent, key: people}, started))

        return handler

    return Router(
        routes=[
            Route("/v2/alerts", alerts, methods=["GET", "POST"]),
            Route("/v2/alerts/count", count_alerts),
            Route("/v2/alerts/requests/{request_id}", request_status),
            Route("/v2/alerts/{ident}", get_alert),
            Route("/v2/alerts/{ident}/logs", cursor_list(state.alert_logs)),
            Route("/v2/alerts/{ident}/notes", cursor_list(state.alert_notes)),
            Route("/v1/incidents/", list_incidents),
            Route("/v1/incidents", list_incidents),
            Route("/v1/incidents/{ident}", get_incident),
            Route("/v2/incident-timelines/{ident}/entries", timeline),
            Route("/v2/schedules", list_schedules),
            Route("/v2/schedules/{ident}", get_schedule),
            Route("/v2/schedules/{ident}/on-calls", who("on-calls")),
            Route("/v2/schedules/{ident}/next-on-calls", who("next-on-calls")),
        ]
    )
