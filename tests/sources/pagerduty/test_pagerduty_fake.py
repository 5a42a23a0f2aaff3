"""The PagerDuty fake against PagerDuty's published OpenAPI description: every answer the client
reads, its error bodies and its rate-limit headers, in the shapes the spec gives them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest

from oncall.sandbox.server import Sandbox
from oncall.sources.pagerduty import API_TOKEN
from tests.factories import FIXTURES
from tests.sources.helpers import openapi_30

SPEC = FIXTURES / "specs" / "pagerduty-openapiv3.json"
ERROR = (
    "#/components/responses/Conflict/content/application~1json/schema"  # what every error answer refers to
)
Check = Callable[[Any, str], None]


def _pointer(path: str) -> str:
    return (
        "#/paths/"
        + path.replace("~", "~0").replace("/", "~1")
        + "/get/responses/200/content/application~1json/schema"
    )


def _as_pagerduty_answers(spec: dict[str, Any]) -> dict[str, Any]:
    """Two places where the published description cannot be met, read as PagerDuty answers:
    - `Channel` is a `oneOf` of channel shapes that are all open objects with optional fields,
      so every channel matches several and none passes: read as `anyOf`;
    - `AcknowledgeLogEntry` narrows `type` to `acknowledgement_log_entry`, which the `LogEntry`
      it extends does not allow (its enum, and PagerDuty's answers, say `acknowledge_log_entry`)."""
    schemas = spec["components"]["schemas"]
    schemas["Channel"]["anyOf"] = schemas["Channel"].pop("oneOf")
    narrowed = schemas["AcknowledgeLogEntry"]["allOf"][1]["properties"]["type"]
    assert narrowed["enum"] == ["acknowledgement_log_entry"]  # the spec still says so: else drop this
    narrowed["enum"] = ["acknowledge_log_entry"]
    return spec


@pytest.fixture(scope="module")
def validate() -> Check:
    spec = openapi_30(_as_pagerduty_answers(json.loads(SPEC.read_text())))

    def check(body: Any, ref: str) -> None:
        jsonschema.Draft7Validator({**spec, "$ref": ref}).validate(body)

    return check


def _get(sandbox: Sandbox, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{sandbox.url}/pagerduty{path}",
        params=params,
        headers={"Authorization": f"Token token={API_TOKEN}", "Accept": "application/json"},
    )


def test_every_answer_the_client_reads_matches_the_published_spec(sandbox: Sandbox, validate: Check) -> None:
    state = sandbox.state.sources["pagerduty"]
    page = next(
        i
        for i in state.incidents
        if i["status"] == "resolved" and i["incident_type"]["name"] != "major_incident"
    )
    acked = next(i for i in state.incidents if i["status"] == "acknowledged")
    schedule = state.schedules[0]["id"]
    week = {"since": "2026-11-17T15:00:00Z", "until": "2026-11-24T15:00:00Z"}
    at = {"since": "2026-11-20T12:00:00Z", "until": "2026-11-20T12:00:00Z"}
    cases: dict[str, tuple[str, dict[str, Any], str]] = {
        "incidents": ("/incidents", {**week, "limit": 100, "total": "true"}, "incidents"),
        "open incidents": (
            "/incidents",
            {"statuses[]": ["triggered", "acknowledged"], "date_range": "all"},
            "incidents",
        ),
        "with priorities": ("/incidents", {**week, "include[]": "priorities", "limit": 5}, "incidents"),
        "an incident": (f"/incidents/{page['id']}", {}, "incident"),
        "an acknowledged one": (f"/incidents/{acked['id']}", {}, "incident"),
        "by number": ("/incidents/101", {}, "incident"),
        "its alerts": (f"/incidents/{page['id']}/alerts", {}, "alerts"),
        "its log": (f"/incidents/{page['id']}/log_entries", {}, "log_entries"),
        "a major one's log": ("/incidents/inc-7f3a-0001/log_entries", {}, "log_entries"),
        "notes": ("/incidents/inc-7f3a-0001/notes", {}, "notes"),
        "the account's log": ("/log_entries", {**week, "is_overview": "true", "limit": 100}, "log_entries"),
        "priorities": ("/priorities", {}, "priorities"),
        "services": ("/services", {}, "services"),
        "schedules": ("/schedules", {}, "schedules"),
        "a schedule": (f"/schedules/{schedule}", {}, "schedule"),
        # (the spec types an on-call's user as a reference only: `include[]=users`, which embeds
        # the user, is left unchecked; the client resolves users by id instead)
        "on call": ("/oncalls", {**at, "schedule_ids[]": schedule}, "oncalls"),
        "a user": (f"/users/{next(iter(state.users))}", {}, "user"),
        "the token's user": ("/users/me", {}, "user"),
        "abilities": ("/abilities", {}, "abilities"),
    }
    for name, (path, params, key) in cases.items():
        response = _get(sandbox, path, **params)
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("application/json"), name
        assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(response.headers), name
        body = response.json()
        assert body[key], name  # something to check, not an empty list
        spec_path = (
            path if not path.startswith(("/incidents/", "/schedules/", "/users/")) else _template(path)
        )
        validate(body, _pointer(spec_path))


def _template(path: str) -> str:
    parts = path.split("/")
    if parts[2] != "me":
        parts[2] = "{id}"
    return "/".join(parts)


def test_paging_echoes_limit_and_offset_and_says_when_there_is_more(sandbox: Sandbox) -> None:
    week = {"since": "2026-11-17T15:00:00Z", "until": "2026-11-24T15:00:00Z"}
    first = _get(sandbox, "/incidents", **week).json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (
        25,
        0,
        True,
        None,
    )  # the defaults
    big = _get(sandbox, "/incidents", **week, limit=500, total="true").json()
    inside = [
        i
        for i in sandbox.state.sources["pagerduty"].incidents
        if "2026-11-17T15" <= i["created_at"] < "2026-11-24T15"
    ]
    assert big["limit"] == 100 and big["total"] == len(inside) > 100
    last = _get(sandbox, "/incidents", **week, limit=100, offset=100).json()
    assert last["more"] is False and len(last["incidents"]) == big["total"] - 100


@pytest.mark.parametrize(
    ("status", "path", "params", "message", "code"),
    [
        (401, "/incidents", {}, "Authentication failed", 2006),
        (404, "/incidents/nope", {}, "Not Found", 2100),
        (404, "/users/PNOBODY", {}, "Not Found", 2100),
        (404, "/incidents/101/alerts", {}, "Not Found", 2100),  # a number finds the incident, not its parts
        (400, "/incidents", {"offset": 9_990, "limit": 100}, "Arguments Caused Error", 2002),
        (400, "/incidents", {"statuses[]": "closed"}, "Invalid Input Provided", 2001),
        (
            400,
            "/incidents",
            {"since": "2026-01-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
            "Invalid Query Date Range",
            2005,
        ),
        (400, "/oncalls", {"since": "not a time"}, "Invalid Input Provided", 2004),
    ],
)
def test_errors_are_pagerdutys_error_document(
    sandbox: Sandbox, validate: Check, status: int, path: str, params: dict[str, Any], message: str, code: int
) -> None:
    headers = {} if status == 401 else {"Authorization": f"Token token={API_TOKEN}"}
    response = httpx.get(f"{sandbox.url}/pagerduty{path}", params=params, headers=headers)
    assert response.status_code == status
    body = response.json()
    validate(body, ERROR)
    assert body["error"]["message"] == message and body["error"]["code"] == code


def test_throttled_answers_say_how_long_to_wait(sandbox: Sandbox, validate: Check) -> None:
    state = sandbox.state.sources["pagerduty"]
    state.throttle = 1
    try:
        response = _get(sandbox, "/abilities")
    finally:
        state.throttle = 0
    assert response.status_code == 429 and "retry-after" not in response.headers
    assert response.headers["ratelimit-remaining"] == "0" and int(response.headers["ratelimit-reset"]) >= 1
    validate(response.json(), ERROR)
    assert _get(sandbox, "/abilities").status_code == 200


def test_the_fault_injectors_pagerduty_answers_are_pagerdutys(sandbox: Sandbox, validate: Check) -> None:
    """What the sandbox's fault injector sends for PagerDuty comes from its SourceSpec."""
    sandbox.script("/pagerduty/incidents", 429, times=1)
    sandbox.script("/pagerduty/schedules", 503, times=1)
    limited = _get(sandbox, "/incidents", since="2026-11-17T15:00:00Z", until="2026-11-24T15:00:00Z")
    down = _get(sandbox, "/schedules")
    assert limited.status_code == 429 and limited.headers["ratelimit-remaining"] == "0"
    assert down.status_code == 503
    for answer in (limited, down):
        validate(answer.json(), ERROR)
