"""shift-handoff end to end: Prefect test server, sandbox fakes, real clients."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from flows.shift_handoff import shift_handoff
from oncall.sandbox.seed import DEFAULT_ANCHOR
from oncall.sandbox.server import Sandbox

CANARY_KEY = "canary-opsgenie-key-7f1e2d"
CANARY_HOOK = "/services/T0CANARY/B0CANARY/canaryhooksecret9c8b"


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    sb = Sandbox.seeded(DEFAULT_ANCHOR)
    sb.state.opsgenie.api_key = CANARY_KEY
    sb.state.slack.webhook_path = CANARY_HOOK
    with sb:
        yield sb


@pytest.fixture
def env(canary_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Sandbox:  # type: ignore[no-untyped-def]
    for key, value in canary_sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ONCALL_OUT_DIR", str(tmp_path))
    canary_sandbox.state.slack.messages.clear()
    return canary_sandbox


def _artifact(key: str) -> str:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key}"
    return str(max(found, key=lambda a: a.created).data)  # type: ignore[arg-type, return-value]


def _logs(flow_run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return "\n".join(log.message for log in logs)


def test_handoff_for_the_seeded_week(env: Sandbox, tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    state = shift_handoff(
        shift_end="2026-11-24T10:00", deliver=["artifact", "slack", "file"], return_state=True
    )
    markdown = state.result()
    artifact = _artifact("shift-handoff-primary-on-call-schedule")
    assert artifact == markdown
    # The default start is the schedule's previous hand-off: one week earlier, in New York time.
    assert "Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST" in artifact
    assert "**Outgoing:** dana.okafor@example.edu, bruno.diaz@example.edu" in artifact
    assert "**Incoming:** alice.ng@example.edu, emil.varga@example.edu" in artifact
    in_week = env.state.opsgenie.matching(
        f"createdAt>={int(DEFAULT_ANCHOR.timestamp() * 1000) - 7 * 86400000} "
        f"AND createdAt<{int(DEFAULT_ANCHOR.timestamp() * 1000)}"
    )
    assert f"Alerts created: **{len(in_week)}**" in artifact
    assert "## Incidents (3)" in artifact and "47m 00s" in artifact
    # The runbook column: the real runbook's entry for xqwatcher disks, and gaps marked.
    assert "- Runbook coverage: **" in artifact and "| runbook |" in artifact
    assert "[DiskUsageWarning xqwatcher](" in artifact and "#diskusagewarning-xqwatcher)" in artifact
    assert "**no runbook**" in artifact
    open_now = [
        a for a in env.state.opsgenie.alerts if a["status"] == "open" and a["createdAt"] < "2026-11-24T15"
    ]
    assert f"## Still open ({len(open_now)})" in artifact
    assert len(env.state.slack.messages) == 1
    assert (
        env.state.slack.messages[0]["blocks"][0]["text"]["text"]
        == "On-call hand-off: Primary On Call Schedule"
    )
    assert (tmp_path / "handoff.md").read_text() == markdown
    # Nothing secret anywhere the run wrote.
    APILogHandler().flush()
    logs = _logs(state.state_details.flow_run_id) + caplog.text
    assert "Read " in logs and "Posted to Slack" in logs
    for text in (
        artifact,
        logs,
        json.dumps(env.state.slack.messages),
        (tmp_path / "slack-handoff.json").read_text(),
    ):
        assert CANARY_KEY not in text and "canaryhooksecret" not in text


def test_dry_run_posts_nothing(env: Sandbox) -> None:
    markdown = shift_handoff(shift_end="2026-11-24T10:00", dry_run=True)
    assert "# On-call hand-off" in markdown
    assert env.state.slack.messages == []
    assert _artifact("shift-handoff-primary-on-call-schedule-dry-run") == markdown


def test_slack_url_from_a_secret_block(env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONCALL_SLACK_WEBHOOK_URL")
    Secret(value=env.slack_webhook_url).save("oncall-slack-webhook-url", overwrite=True)
    try:
        shift_handoff(shift_end="2026-11-24T10:00", shift_start="2026-11-23T10:00", deliver=["slack"])
    finally:
        Secret.delete("oncall-slack-webhook-url")
    assert len(env.state.slack.messages) == 1


def test_two_handoffs_at_once_post_one_message_and_a_rerun_none(env: Sandbox) -> None:
    shift = {"shift_end": "2026-11-24T10:00", "shift_start": "2026-11-22T10:00", "deliver": ["slack"]}
    env.faults("slack", latency_ms=300)  # the second run reaches Slack while the first post is in flight
    results: list[str] = []
    try:
        runs = [threading.Thread(target=lambda: results.append(shift_handoff(**shift))) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=120)
    finally:
        env.app.rates.pop("slack")
    assert len(results) == 2 and results[0] == results[1]
    assert len(env.state.slack.messages) == 1
    shift_handoff(**shift)
    assert len(env.state.slack.messages) == 1
    shift_handoff(**shift, repost=True)
    assert len(env.state.slack.messages) == 2
    shift_handoff(**{**shift, "shift_start": "2026-11-21T10:00"})  # another shift is another message
    assert len(env.state.slack.messages) == 3


def test_bad_parameters_fail_with_a_named_reason(env: Sandbox) -> None:
    state = shift_handoff(shift_end="2026-11-24T10:00", shift_start="2026-11-25T10:00", return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match=r"shift_start .* is not before shift_end"):
        state.result()
    state = shift_handoff(shift_end="2026-11-24T10:00", timezone="Mars/Base", return_state=True)
    with pytest.raises(Exception, match="IANA"):
        state.result()
