"""The OpsGenie fake behaves as OpsGenie does: Create Alert, the documented query syntax, incident paging.

Vendor behaviour confirmed in OpsGenie's docs (docs.opsgenie.com "Alert API", "Alerts Search Query
Help", "Search syntax for incidents", "Pagination") and in the opsgenie-go-sdk's 422 fixture; the
spec is tests/fixtures/specs/opsgenie-swagger.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema
import pytest

from oncall.sandbox.query import QueryError, compile_query
from oncall.sandbox.seed import DEFAULT_ANCHOR, seed_state
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sources.opsgenie.fake import State as OpsGenieState
from tests.factories import FIXTURES

SPEC = json.loads((FIXTURES / "specs" / "opsgenie-swagger.json").read_text())


def _validate(body: Any, definition: str) -> None:
    schema = {"definitions": SPEC["definitions"], "$ref": f"#/definitions/{definition}"}
    jsonschema.Draft4Validator(schema).validate(body)


@pytest.fixture(scope="module")
def own() -> Iterator[Sandbox]:
    """A sandbox of this module's own: the alerts created here stay out of every other test's week."""
    with Sandbox(seed_state(DEFAULT_ANCHOR, seed=7)) as sb:
        yield sb


@pytest.fixture
def og(own: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=own.opsgenie_url, headers={"Authorization": f"GenieKey {own.state.opsgenie.api_key}"}
    ) as client:
        yield client


# -- Create Alert -------------------------------------------------------------------------------


def test_create_alert_is_accepted_and_then_listed_with_created_at_now(og: httpx.Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    hostile = 'Zoë@ops-team </details> "quoted" #12 owner/repo#3 ' + "x" * 40
    answer = og.post(
        "/v2/alerts",
        json={
            "message": hostile,
            "alias": "hostile-1",
            "description": "line\n" * 10,
            "tags": ["hostile", "test"],
            "priority": "P2",
            "details": {"k": "v"},
            "entity": "host-1",
            "source": "pytest",
        },
    )
    assert answer.status_code == 202
    body = answer.json()
    assert body["result"] == "Request will be processed" and body["requestId"] and "took" in body
    _validate(body, "SuccessResponse")
    status = og.get(f"/v2/alerts/requests/{body['requestId']}")
    assert status.status_code == 200
    _validate(status.json(), "GetRequestStatusResponse")
    data = status.json()["data"]
    assert data["isSuccess"] is True and data["action"] == "Create" and data["status"] == "Created alert"
    listed = og.get("/v2/alerts", params={"query": "tag:hostile", "limit": 100}).json()["data"]
    assert [a["message"] for a in listed] == [hostile]
    created = datetime.fromisoformat(listed[0]["createdAt"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert listed[0]["id"] == data["alertId"] and listed[0]["alias"] == "hostile-1"
    assert listed[0]["priority"] == "P2" and listed[0]["status"] == "open" and listed[0]["count"] == 1
    full = og.get(f"/v2/alerts/{data['alertId']}").json()["data"]
    assert full["description"] == "line\n" * 10 and full["details"] == {"k": "v"}
    _validate(full, "Alert")
    in_window = og.get(
        "/v2/alerts/count", params={"query": f"createdAt>={int(before.timestamp() * 1000)}"}
    ).json()["data"]["count"]
    assert in_window >= 1


def test_create_alert_with_an_open_alias_deduplicates(og: httpx.Client) -> None:
    for _ in range(3):
        assert og.post("/v2/alerts", json={"message": "dedup me", "alias": "dedup-1"}).status_code == 202
    listed = og.get("/v2/alerts", params={"query": "alias:dedup-1"}).json()["data"]
    assert len(listed) == 1 and listed[0]["count"] == 3 and listed[0]["priority"] == "P3"


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({}, "message", "Message can not be empty."),
        ({"message": "   "}, "message", "Message can not be empty."),
        ({"message": "m" * 131}, "message", "Message can not be longer than 130 characters."),
        ({"message": "m", "alias": "a" * 513}, "alias", "Alias can not be longer than 512 characters."),
        (
            {"message": "m", "description": "d" * 15_001},
            "description",
            "Description can not be longer than 15000 characters.",
        ),
        ({"message": "m", "entity": "e" * 513}, "entity", "Entity can not be longer than 512 characters."),
        ({"message": "m", "priority": "P6"}, "priority", "Priority should be one of [P1, P2, P3, P4, P5]."),
        ({"message": "m", "tags": "a,b"}, "tags", "Tags should be a list of strings."),
        ({"message": 5}, "message", "Message should be a string."),
        ({"message": "m", "details": {"k": 1}}, "details", "Details should be a map of strings."),
    ],
)
def test_create_alert_refuses_what_opsgenie_refuses(
    og: httpx.Client, payload: dict[str, Any], field: str, reason: str
) -> None:
    answer = og.post("/v2/alerts", json=payload)
    assert answer.status_code == 422
    body = answer.json()
    assert body["message"] == "Request body is not processable. Please check the errors."
    assert body["errors"] == {field: reason}
    _validate(body, "ErrorResponse")


def test_create_alert_refuses_a_body_that_is_not_json_and_a_bad_key(og: httpx.Client, own: Sandbox) -> None:
    answer = og.post("/v2/alerts", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert httpx.post(f"{own.opsgenie_url}/v2/alerts", json={"message": "m"}).status_code == 401


def test_create_alert_keeps_opsgenie_s_limits_on_lists(og: httpx.Client) -> None:
    """At most 20 tags of 50 characters and 10 actions: OpsGenie drops the rest and cuts long ones."""
    tags = [f"t{i}-" + "x" * 60 for i in range(25)]
    og.post(
        "/v2/alerts", json={"message": "many tags", "alias": "tags-1", "tags": tags, "actions": ["a"] * 12}
    )
    alert = og.get("/v2/alerts/tags-1", params={"identifierType": "alias"}).json()["data"]
    assert alert["tags"] == [t[:50] for t in tags[:20]] and len(alert["actions"]) == 10


def test_unknown_request_id_is_404(og: httpx.Client) -> None:
    answer = og.get("/v2/alerts/requests/no-such-request")
    assert answer.status_code == 404


# -- The query syntax ---------------------------------------------------------------------------


def _alert(**kw: Any) -> dict[str, Any]:
    return {
        "id": "a1",
        "tinyId": "1",
        "message": "Disk usage high on apollo",
        "description": "",
        "status": "open",
        "acknowledged": False,
        "priority": "P3",
        "tags": ["disk", "prod"],
        "alias": "disk-apollo",
        "count": 3,
        "owner": "",
        "entity": "apollo",
        "source": "prometheus",
        "createdAt": "2026-11-20T10:00:00Z",
        "updatedAt": "2026-11-20T10:05:00Z",
        **kw,
    }


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ("status:closed OR status:open", True),
        ("status:closed OR status:resolved", False),
        ("NOT status:closed", True),
        ("status:open AND NOT tag:prod", False),
        ("status:open NOT tag:prod", False),
        ("(status:closed OR priority:P3) AND tag:disk", True),
        ("apollo", True),
        ("zeus", False),
        ('"usage high"', True),
        ('"high usage"', False),
        ("message:disk*", True),
        ("message:*apol*", True),
        ("alias:disk-*", True),
        ("alias:disk", False),
        ("count>2", True),
        ("count >= 4", False),
        ("createdAt<1800000000000 AND createdAt>=1700000000000", True),
        ("priority:(P1 OR P2)", False),
        ("tag:(prod AND disk)", True),
        ("tag:(prod AND web)", False),
        ("entity:apollo OR NOT status:open", True),
    ],
)
def test_the_documented_query_syntax(query: str, matches: bool) -> None:
    assert compile_query(query).matches(_alert()) is matches


@pytest.mark.parametrize("query", ["status:", "(status:open", "status:open)", "nosuchfield:x", "AND", "NOT"])
def test_a_query_opsgenie_cannot_read_is_refused(query: str) -> None:
    with pytest.raises(QueryError):
        compile_query(query)


def test_createdat_bounds_are_taken_only_from_the_top_level_and() -> None:
    q = compile_query("createdAt>=10 AND createdAt<20 AND status:open")
    assert (q.created_from, q.created_until) == (10, 20)
    either = compile_query("createdAt>=10 OR status:open")
    assert (either.created_from, either.created_until) == (None, None)
    assert either.rest is not None and either.rest(_alert())


def test_a_top_level_or_is_answered_not_refused(og: httpx.Client, own: Sandbox) -> None:
    answer = og.get("/v2/alerts/count", params={"query": "status:closed OR status:open"})
    assert answer.status_code == 200
    assert answer.json()["data"]["count"] == len(own.state.opsgenie.alerts)
    closed = og.get("/v2/alerts/count", params={"query": "NOT status:open"}).json()["data"]["count"]
    assert closed == sum(a["status"] == "closed" for a in own.state.opsgenie.alerts)


# -- Incident paging ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_incidents() -> Iterator[Sandbox]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    incidents = [
        {
            "id": f"inc-{i:05d}",
            "tinyId": str(i),
            "message": f"incident {i}",
            "status": "closed" if i % 2 else "resolved",
            "priority": "P3",
            "tags": [],
            "createdAt": (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "updatedAt": (start + timedelta(minutes=i + 5)).isoformat().replace("+00:00", "Z"),
            "impactedServices": [],
        }
        for i in range(250)
    ]
    with Sandbox(SandboxState(opsgenie=OpsGenieState(incidents=incidents))) as sb:
        yield sb


def test_incident_paging_next_keeps_the_query(many_incidents: Sandbox) -> None:
    key = many_incidents.state.opsgenie.api_key
    headers = {"Authorization": f"GenieKey {key}"}
    url: str | None = f"{many_incidents.opsgenie_url}/v1/incidents/"
    params: dict[str, Any] | None = {"query": "status:closed", "limit": 100, "order": "asc"}
    seen: list[str] = []
    while url:
        page = httpx.get(url, params=params, headers=headers).json()
        seen += [i["id"] for i in page["data"]]
        url, params = page["paging"].get("next"), None
        if url:
            assert "query=status%3Aclosed" in url and "order=asc" in url
    assert len(seen) == 125 == len(set(seen))


def test_incident_list_caps_offset_plus_limit_below_20000(many_incidents: Sandbox) -> None:
    headers = {"Authorization": f"GenieKey {many_incidents.state.opsgenie.api_key}"}
    answer = httpx.get(
        f"{many_incidents.opsgenie_url}/v1/incidents/",
        params={"query": "status:closed", "offset": 19_950, "limit": 50},
        headers=headers,
    )
    assert answer.status_code == 422
    assert answer.json()["message"] == "Sum of offset and limit should be lower than 20000"
