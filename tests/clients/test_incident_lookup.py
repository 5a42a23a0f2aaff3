"""`get_incident` takes what a person has in hand: the id, or the number the hand-off shows
(OpsGenie's tinyId, a JSM work-item key or its number, Rootly's sequential id), against the fakes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta

import httpx
import pytest

from oncall.errors import ConfigError, NotFoundError
from oncall.models import TimeWindow
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from oncall.settings import load_settings
from oncall.sources import SOURCE_NAMES, AlertSource, build_source, source_spec

LONG = "inc-7f3a-0001"  # tinyId 101 in the seeded week
WEEK = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)


def _source(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, name: str, **env: str) -> AlertSource:
    for key, value in {**sandbox.source_env(name), **env}.items():
        monkeypatch.setenv(key, value)
    return build_source(load_settings())


@pytest.fixture(params=SOURCE_NAMES)
def each(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[AlertSource]:
    with closing(_source(sandbox, monkeypatch, request.param)) as source:
        yield source


def test_the_number_the_hand_off_shows_finds_the_same_incident_as_its_id(each: AlertSource) -> None:
    number = source_spec(each.name).fake.long_incident_number  # "101", tinyId 101 in the seeded week
    listed = {i.tiny_id: i for i in each.fetch_incidents(WEEK)}
    first = listed[number]
    for ref in (number, f"#{number}", first.id):
        found = each.get_incident(ref)
        assert (found.id, found.tiny_id, found.message) == (first.id, number, first.message), ref


def test_an_unknown_number_is_not_found_and_names_it(each: AlertSource) -> None:
    with pytest.raises(NotFoundError, match="9999"):
        each.get_incident("9999")


def test_opsgenie_asks_for_a_number_with_identifier_type_tiny(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = len(sandbox.app.served)
    with closing(_source(sandbox, monkeypatch, "opsgenie")) as source:
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


def test_jsm_takes_the_key_or_the_number_in_the_incident_project(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sandbox.state.jsm.project
    with closing(_source(sandbox, monkeypatch, "jsm")) as source:
        assert source.get_incident("101").id == f"{project}-101"
        assert source.get_incident(f"{project}-101").id == f"{project}-101"
    # A bare number is Jira's internal issue id to the API; without a project it cannot be read as a key.
    monkeypatch.delenv("ONCALL_JSM_INCIDENT_PROJECT")
    with closing(build_source(load_settings())) as source, pytest.raises(ConfigError) as raised:
        source.get_incident("101")
    assert "ONCALL_JSM_INCIDENT_PROJECT" in str(raised.value) and f"{project}-101" not in str(raised.value)


def test_rootly_finds_a_sequential_id_by_the_documented_filter(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /v1/incidents/{id} takes a UUID or a slug (the spec); a number goes through
    `filter[sequential_id]` on the list, which the spec documents."""
    mark = len(sandbox.app.served)
    with closing(_source(sandbox, monkeypatch, "rootly")) as source:
        assert source.get_incident("101").tiny_id == "101"
    asked = [s for s in sandbox.app.served[mark:] if s.path.startswith("/rootly/v1/incidents")]
    assert [s.path for s in asked] == ["/rootly/v1/incidents"] and "filter%5Bsequential_id%5D=101" in asked[
        0
    ].query


def test_an_opsgenie_alert_is_found_by_the_tiny_id_the_hand_off_shows(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For `oncall coe prep --alert 1101` (teams that page without incidents)."""
    seeded = sandbox.state.opsgenie.alerts[0]
    with closing(_source(sandbox, monkeypatch, "opsgenie")) as source:
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
