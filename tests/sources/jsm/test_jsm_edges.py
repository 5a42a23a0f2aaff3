"""JSM's own edges against its fake: an incident by its key or its number in the incident
project, and `next` links that come back again. Moved from the shared lookup and hostile-response tests."""

from __future__ import annotations

import json
from contextlib import closing

import pytest

from oncall.errors import ConfigError, MalformedError
from oncall.sandbox.server import Sandbox
from oncall.settings import load_settings
from oncall.sources import REGISTRY, build_source
from tests.conftest import FakeSleep
from tests.sources.helpers import source_from_env, source_with_sleep

PREFIX = {"jsm": f"/{REGISTRY['jsm'].fake.mount}{REGISTRY['jsm'].fake.alerts_path}"}


def test_jsm_takes_the_key_or_the_number_in_the_incident_project(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = sandbox.state.jsm.project
    with closing(source_from_env(sandbox, monkeypatch, "jsm")) as source:
        assert source.get_incident("101").id == f"{project}-101"
        assert source.get_incident(f"{project}-101").id == f"{project}-101"
    # A bare number is Jira's internal issue id to the API; without a project it cannot be read as a key.
    monkeypatch.delenv("ONCALL_JSM_INCIDENT_PROJECT")
    with closing(build_source(load_settings())) as source, pytest.raises(ConfigError) as raised:
        source.get_incident("101")
    assert "ONCALL_JSM_INCIDENT_PROJECT" in str(raised.value) and f"{project}-101" not in str(raised.value)


def test_endless_next_links_stop_with_an_error(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    alert = sandbox.state.jsm.ops.alerts[0]["id"]
    loop = json.dumps({"values": [], "links": {"next": f"/v1/alerts/{alert}/logs?after=x&size=100"}}).encode()
    sandbox.script(f"{PREFIX['jsm']}/{alert}/logs", 200, body=loop, times=100)
    before = sandbox.app.count("atlassian", path_prefix=f"{PREFIX['jsm']}/{alert}/logs")
    with (
        closing(source_with_sleep(sandbox, "jsm", fake_sleep)) as src,
        pytest.raises(MalformedError, match="came back again"),
    ):
        src.alert_timeline(alert)
    assert sandbox.app.count("atlassian", path_prefix=f"{PREFIX['jsm']}/{alert}/logs") - before == 2
