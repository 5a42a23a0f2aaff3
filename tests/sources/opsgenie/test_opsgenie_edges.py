"""OpsGenie's own edges against its fake: what `get_incident` and `get_alert` ask for by number
(`identifierType`), what the fake refuses as the spec says, and a log cursor that does not move.
Moved from the shared lookup and hostile-response tests, which now take every source from the registry."""

from __future__ import annotations

import json
from contextlib import closing

import httpx
import pytest

from oncall.errors import MalformedError
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep
from tests.sources.helpers import source_from_env, source_with_sleep

LONG = "inc-7f3a-0001"  # tinyId 101 in the seeded week


def test_opsgenie_asks_for_a_number_with_identifier_type_tiny(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = len(sandbox.app.served)
    with closing(source_from_env(sandbox, monkeypatch, "opsgenie")) as source:
        assert source.get_incident("101").id == LONG
        assert source.get_incident(LONG).tiny_id == "101"
    asked = [
        (s.path, s.query) for s in sandbox.app.served[mark:] if s.path.startswith("/opsgenie/v1/incidents/")
    ]
    assert asked == [
        ("/opsgenie/v1/incidents/101", "identifierType=tiny"),
        ("/opsgenie/v1/incidents/inc-7f3a-0001", "identifierType=id"),
    ]


def _get(sandbox: Sandbox, path: str) -> httpx.Response:
    key = sandbox.state.opsgenie.api_key
    return httpx.get(f"{sandbox.opsgenie_url}{path}", headers={"Authorization": f"GenieKey {key}"})


def test_the_opsgenie_fake_reads_the_identifier_as_identifier_type_says(sandbox: Sandbox) -> None:
    """The spec (tests/fixtures/specs/opsgenie-swagger.json, IncidentIdentifierType): `id` or
    `tiny`, default `id`. A tinyId read as an id is not found; an id read as a tinyId neither."""
    assert _get(sandbox, "/v1/incidents/101?identifierType=tiny").json()["data"]["id"] == LONG
    assert _get(sandbox, f"/v1/incidents/{LONG}").json()["data"]["tinyId"] == "101"
    assert _get(sandbox, "/v1/incidents/101").status_code == 404
    assert _get(sandbox, "/v1/incidents/101?identifierType=id").status_code == 404
    assert _get(sandbox, f"/v1/incidents/{LONG}?identifierType=tiny").status_code == 404
    refused = _get(sandbox, "/v1/incidents/101?identifierType=alias")
    assert refused.status_code == 422 and "identifierType" in refused.json()["message"]


def test_an_opsgenie_alert_is_found_by_the_tiny_id_the_hand_off_shows(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For `oncall coe prep --alert 1101` (teams that page without incidents)."""
    seeded = sandbox.state.opsgenie.alerts[0]
    with closing(source_from_env(sandbox, monkeypatch, "opsgenie")) as source:
        for ref in (seeded["tinyId"], f"#{seeded['tinyId']}", seeded["id"]):
            assert source.get_alert(ref).id == seeded["id"], ref


def test_the_opsgenie_fake_refuses_an_alert_identifier_type_the_spec_lacks(sandbox: Sandbox) -> None:
    """The spec's AlertIdentifierType: `id`, `alias` or `tiny`. OpsGenie answers a semantic error
    in the request with 422 and its error body (docs.opsgenie.com/docs/response); an unknown
    type is never read as `id`."""
    seeded = sandbox.state.opsgenie.alerts[0]
    assert (
        _get(sandbox, f"/v2/alerts/{seeded['tinyId']}?identifierType=tiny").json()["data"]["id"]
        == (seeded["id"])
    )
    for path in (f"/v2/alerts/{seeded['id']}", f"/v2/alerts/{seeded['id']}/notes"):
        refused = _get(sandbox, f"{path}?identifierType=name")
        assert refused.status_code == 422, path
        assert {"message", "took", "requestId"} <= set(refused.json()) and "identifierType" in (
            refused.json()["message"]
        )


def test_an_opsgenie_cursor_that_does_not_move_stops_with_an_error(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    alert = sandbox.state.opsgenie.alerts[0]["id"]
    entries = [
        {
            "log": "x",
            "type": "system",
            "owner": "System",
            "createdAt": "2026-11-20T10:00:00Z",
            "offset": "same",
        }
    ]
    page = json.dumps({"data": entries * 100, "took": 0, "requestId": "r"}).encode()
    sandbox.script(f"/opsgenie/v2/alerts/{alert}/logs", 200, body=page, times=100)
    with (
        closing(source_with_sleep(sandbox, "opsgenie", fake_sleep)) as src,
        pytest.raises(MalformedError, match="does not move"),
    ):
        src.alert_timeline(alert)
