"""A fake Jira Service Management: the Operations API and the parts of the Jira site oncall reads.

Under one mount it answers both hosts: `/jsm/ops/api/{cloudId}/v1/...` (api.atlassian.com)
and `/rest/api/3/...` plus `/_edge/tenant_info` (the `*.atlassian.net` site). Records reuse
OpsGenie's alert shape, which JSM kept, with Atlassian account ids where OpsGenie had names.
JQL is understood only in the clauses oncall sends; anything else is a 400 with Jira's
`errorMessages`, as Jira answers a query it cannot parse.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.query import QueryError
from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.week import Week, on_call_turns
from oncall.sources.jsm import API_TOKEN, CLOUD_ID, EMAIL

OFFSET_CAP = 20_000
_CLAUSE = re.compile(r'^(?P<field>project|issuetype|created|resolved)\s*(?P<op>=|>=|<)\s*"(?P<value>[^"]*)"$')


@dataclass
class State:
    cloud_id: str = CLOUD_ID
    email: str = EMAIL
    api_token: str = API_TOKEN
    ops: Week = field(default_factory=Week)  # alerts, logs, schedules in OpsGenie's shapes, with account ids
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # accountId -> Jira user
    project: str = "OPS"
    incident_type: bool = True  # False: the project has no "[System] Incident" type
    issues: list[dict[str, Any]] = field(default_factory=list)
    changelogs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # issue key -> histories


def _message(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _jira_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errorMessages": [message], "errors": {}}, status_code=status)


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None


def _jira_time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def app(state: State) -> Router:
    ops = state.ops

    def authed(request: Request) -> bool:
        expected = base64.b64encode(f"{state.email}:{state.api_token}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def guard(fn: Callable[[Request], JSONResponse], *, ops_api: bool) -> Any:
        async def handler(request: Request) -> JSONResponse:
            if not authed(request):
                return _message(401, "Client must be authenticated to access this resource.")
            if ops_api and request.path_params.get("cloud") != state.cloud_id:
                return _message(404, "Cloud id not found")
            try:
                return fn(request)
            except QueryError as exc:
                return (_message if ops_api else _jira_error)(400, str(exc))

        return handler

    async def tenant_info(request: Request) -> JSONResponse:
        return JSONResponse({"cloudId": state.cloud_id})

    # -- Operations API ---------------------------------------------------------------------

    def list_alerts(request: Request) -> JSONResponse:
        offset, size = _int(request, "offset", 0), _int(request, "size", 20)
        if not 1 <= size <= 100:
            return _message(400, "size should be between 1 and 100")
        if offset < 0 or offset + size >= OFFSET_CAP:
            return _message(400, f"Sum of offset and size should be lower than {OFFSET_CAP}")
        found = ops.matching(request.query_params.get("query"))
        if request.query_params.get("order", "desc") == "desc":
            found = found[::-1]
        page = [
            {k: v for k, v in a.items() if k not in ("description", "details", "actions")}
            for a in found[offset : offset + size]
        ]
        body: dict[str, Any] = {"values": page, "count": len(found), "links": {}}
        if offset + size < len(found):
            rest = {k: v for k, v in request.query_params.items() if k not in ("offset", "size")}
            extra = "".join(f"&{k}={v}" for k, v in rest.items())
            body["links"]["next"] = f"/v1/alerts?offset={offset + size}&size={size}{extra}"
        return JSONResponse(body)

    def get_alert(request: Request) -> JSONResponse:
        alert = next((a for a in ops.alerts if a["id"] == request.path_params["ident"]), None)
        return _message(404, "Alert not found") if alert is None else JSONResponse(alert)

    def cursor(source: dict[str, list[dict[str, Any]]], kind: str) -> Callable[[Request], JSONResponse]:
        def handler(request: Request) -> JSONResponse:
            ident = request.path_params["ident"]
            if all(a["id"] != ident for a in ops.alerts):
                return _message(404, "Alert not found")
            items = source.get(ident, [])
            size = _int(request, "size", 20)
            after = request.query_params.get("after")
            start = next((i + 1 for i, it in enumerate(items) if it["offset"] == after), 0) if after else 0
            page = items[start : start + size]
            links = {}
            if start + size < len(items):
                links["next"] = f"/v1/alerts/{ident}/{kind}?after={page[-1]['offset']}&size={size}"
            return JSONResponse({"values": page, "links": links})

        return handler

    def list_schedules(request: Request) -> JSONResponse:
        """Paged as JSM pages it: `offset`/`size` (default 20), the next page's path in `links.next`."""
        offset, size = _int(request, "offset", 0), _int(request, "size", 20)
        if not 1 <= size <= 100 or offset < 0:
            return _message(400, "size should be between 1 and 100")
        expand = "rotation" in (request.query_params.get("expand") or "")
        values = [
            s if expand else {k: v for k, v in s.items() if k != "rotations"}
            for s in ops.schedules[offset : offset + size]
        ]
        links: dict[str, str] = {}
        if offset + size < len(ops.schedules):
            rest = "".join(
                f"&{k}={v}" for k, v in request.query_params.items() if k not in ("offset", "size")
            )
            links["next"] = f"/v1/schedules?offset={offset + size}&size={size}{rest}"
        return JSONResponse({"values": values, "links": links})

    def who(kind: str) -> Callable[[Request], JSONResponse]:
        def handler(request: Request) -> JSONResponse:
            sch = next((s for s in ops.schedules if s["id"] == request.path_params["ident"]), None)
            if sch is None:
                return _message(404, "Schedule not found")
            try:
                at = (
                    _jira_time(request.query_params["date"])
                    if "date" in request.query_params
                    else datetime.now(UTC)
                )
            except ValueError:
                return _message(400, "date must be ISO-8601")
            turns = ops.turns.get(sch["id"], [])
            live = on_call_turns(turns, at, at)
            if kind == "next-on-calls":
                ends = [_jira_time(t.end) for t in live]
                live = on_call_turns(turns, min(ends), min(ends)) if ends else []
            key = "onCallParticipants" if kind == "on-calls" else "nextOnCallParticipants"
            return JSONResponse({key: [{"id": t.user["id"], "type": "user"} for t in live]})

        return handler

    # -- Jira site --------------------------------------------------------------------------

    def user_bulk(request: Request) -> JSONResponse:
        ids = request.query_params.getlist("accountId")
        if not ids:
            return _jira_error(400, "accountId is required")
        found = [state.users[a] for a in ids if a in state.users]
        return JSONResponse(
            {"startAt": 0, "maxResults": len(ids), "total": len(found), "isLast": True, "values": found}
        )

    def myself(request: Request) -> JSONResponse:
        me = next((u for u in state.users.values() if u.get("emailAddress") == state.email), None)
        return JSONResponse(
            me or {"accountId": "bot", "displayName": "oncall bot", "emailAddress": state.email}
        )

    def search(request: Request) -> JSONResponse:
        jql = request.query_params.get("jql") or ""
        where = re.split(r"\s+ORDER BY\s+", jql, maxsplit=1)[0]
        preds: list[Callable[[dict[str, Any]], bool]] = []
        for clause in where.split(" AND "):
            m = _CLAUSE.match(clause.strip())
            if m is None:
                raise QueryError(f"Error in the JQL Query: cannot read {clause.strip()!r}")
            name, op, value = m["field"], m["op"], m["value"]
            if name == "project":
                if value != state.project:
                    raise QueryError(f"The value '{value}' does not exist for the field 'project'.")
            elif name == "issuetype":
                if not state.incident_type or value != "[System] Incident":
                    raise QueryError(f"The value '{value}' does not exist for the field 'issuetype'.")
            else:
                bound = datetime.strptime(value, "%Y/%m/%d %H:%M").replace(tzinfo=UTC)
                key = "created" if name == "created" else "resolutiondate"
                preds.append(
                    lambda i, k=key, b=bound, ge=(op == ">="): (
                        i["fields"].get(k) is not None  # type: ignore[misc]
                        and ((_jira_time(i["fields"][k]) >= b) if ge else (_jira_time(i["fields"][k]) < b))
                    )
                )
        found = sorted(
            (i for i in state.issues if all(p(i) for p in preds)), key=lambda i: i["fields"]["created"]
        )
        size = _int(request, "maxResults", 50)
        start = int(request.query_params.get("nextPageToken") or 0)
        page = found[start : start + size]
        body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    def issue(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        found = next((i for i in state.issues if key in (i["key"], i["id"])), None)
        if found is None:
            return _jira_error(404, "Issue does not exist or you do not have permission to see it.")
        return JSONResponse(found)

    def changelog(request: Request) -> JSONResponse:
        key = request.path_params["key"]
        if key not in state.changelogs:
            return _jira_error(404, "Issue does not exist or you do not have permission to see it.")
        values = state.changelogs[key]
        start, size = _int(request, "startAt", 0), _int(request, "maxResults", 100)
        page = values[start : start + size]
        return JSONResponse(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(values),
                "isLast": start + size >= len(values),
                "values": page,
            }
        )

    base = "/jsm/ops/api/{cloud}/v1"
    return Router(
        routes=[
            Route("/_edge/tenant_info", tenant_info),
            Route(f"{base}/alerts", guard(list_alerts, ops_api=True)),
            Route(f"{base}/alerts/{{ident}}", guard(get_alert, ops_api=True)),
            Route(f"{base}/alerts/{{ident}}/logs", guard(cursor(ops.alert_logs, "logs"), ops_api=True)),
            Route(f"{base}/alerts/{{ident}}/notes", guard(cursor(ops.alert_notes, "notes"), ops_api=True)),
            Route(f"{base}/schedules", guard(list_schedules, ops_api=True)),
            Route(f"{base}/schedules/{{ident}}/on-calls", guard(who("on-calls"), ops_api=True)),
            Route(f"{base}/schedules/{{ident}}/next-on-calls", guard(who("next-on-calls"), ops_api=True)),
            Route("/rest/api/3/user/bulk", guard(user_bulk, ops_api=False)),
            Route("/rest/api/3/myself", guard(myself, ops_api=False)),
            Route("/rest/api/3/search/jql", guard(search, ops_api=False)),
            Route("/rest/api/3/issue/{key}", guard(issue, ops_api=False)),
            Route("/rest/api/3/issue/{key}/changelog", guard(changelog, ops_api=False)),
        ]
    )
