"""coe-prep tells the team once, whatever Slack answers: a lost answer is never posted twice."""

from __future__ import annotations

import pytest

from flows.coe_prep import coe_prep
from oncall.errors import MalformedError, UncertainError
from oncall.sandbox.server import Sandbox
from tests.flows.conftest import LONG, rows


def test_a_lost_slack_answer_is_not_posted_again_by_the_rerun(google: Sandbox) -> None:
    """Slack posted, its answer was lost (502): the run fails before the row, and the rerun
    writes the row without telling the team a second time."""
    google.script("/slack/", 502, after=True)
    state = coe_prep(incident_id=LONG, return_state=True)
    assert state.is_failed() and len(google.state.slack.messages) == 1 and rows(google, LONG) == []
    with pytest.raises(UncertainError, match="no run will post it again"):
        state.result()
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(rows(google, LONG)) == 1 and len(google.state.slack.messages) == 1


def test_a_proxy_page_is_not_taken_for_a_post(google: Sandbox) -> None:
    """A 200 that is not Slack's `ok` posted nothing: the rerun tells the team."""
    google.script("/slack/", 200, body=b"<html><h1>Blocked by proxy</h1></html>")
    state = coe_prep(incident_id=LONG, return_state=True)
    assert state.is_failed() and google.state.slack.messages == []
    with pytest.raises(MalformedError, match="not Slack's answer"):
        state.result()
    assert coe_prep(incident_id=LONG)["status"] == "exists"
    assert len(rows(google, LONG)) == 1 and len(google.state.slack.messages) == 1
