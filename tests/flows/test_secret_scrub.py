"""A proxy's 404 page that echoes the Slack webhook path fails the hand-off with an error that
names the setting, and leaves the secret in no error, log line or flow-run state."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from flows.shift_handoff import shift_handoff
from oncall.errors import NotFoundError
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox
from tests.clients.test_secret_scrub import echo_pages
from tests.conftest import leaks

CANARY_HOOK = "/services/T0CANARY/B0CANARY/canaryhooksecret9c8b"


@pytest.fixture(scope="module")
def canary_hook() -> Iterator[Sandbox]:
    sb = Sandbox.seeded(DEFAULT_ANCHOR)
    sb.state.slack.webhook_path = CANARY_HOOK
    with sb:
        yield sb


def _logs(flow_run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(log.message for log in logs)


def test_an_echoed_webhook_path_reaches_no_error_log_or_state(
    canary_hook: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    for key, value in canary_hook.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    canary_hook.script("/slack/services", 404, body=echo_pages("/slack" + CANARY_HOOK)["apache"], times=5)
    state = shift_handoff(
        shift_end="2026-11-24T10:00", shift_start="2026-11-23T10:00", deliver=["slack"], return_state=True
    )
    assert state.is_failed()
    with pytest.raises(NotFoundError) as caught:
        state.result()
    assert "ONCALL_SLACK_WEBHOOK_URL" in str(caught.value) and "[redacted]" in str(caught.value)
    assert canary_hook.app.count("slack") >= 1  # the page was served, and echoed the path
    for text in (str(caught.value), str(state.message), _logs(state.state_details.flow_run_id), caplog.text):
        assert leaks(text) == []
