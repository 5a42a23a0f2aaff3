"""shift-handoff end to end: Prefect test server, sandbox fakes, real clients."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun, State
from prefect.client.schemas.schedules import CronSchedule
from prefect.flow_engine import run_flow
from prefect.logging.handlers import APILogHandler
from prefect.states import Scheduled
from prefect.variables import Variable

from flows.shift_handoff import shift_handoff
from oncall import clock
from oncall.errors import InputError, MalformedError, UncertainError
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
    shown = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", artifact)  # as the UI shows it (oncall/escape.py)
    assert "**Outgoing:** dana.okafor@example.edu, bruno.diaz@example.edu" in shown
    assert "**Incoming:** alice.ng@example.edu, emil.varga@example.edu" in shown
    in_week = env.state.opsgenie.matching(
        f"createdAt>={int(DEFAULT_ANCHOR.timestamp() * 1000) - 7 * 86400000} "
        f"AND createdAt<{int(DEFAULT_ANCHOR.timestamp() * 1000)}"
    )
    assert f"Alerts created: **{len(in_week)}**" in artifact
    assert "## Incidents (3)" in artifact and "47m 00s" in artifact
    # The runbook column: the real runbook's entry for xqwatcher disks, and gaps marked.
    assert "- Runbook coverage: **" in artifact and "| runbook |" in artifact
    assert "[entry](" in artifact and "#diskusagewarning-xqwatcher)" in artifact
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


def _artifact_description(key: str) -> str:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key}"
    return str(max(found, key=lambda a: a.created).description)


def test_each_hand_off_in_the_key_s_history_is_labelled_by_its_shift(env: Sandbox) -> None:
    """One key per schedule keeps the history in one place (/artifacts/key/...); each version's
    description names its shift, so the history reads as a list of shifts."""
    shift_handoff(shift_end="2026-11-24T10:00", deliver=["artifact"])
    key = "shift-handoff-primary-on-call-schedule"
    assert _artifact_description(key) == (
        "Hand-off for Primary On Call Schedule, shift Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST"
    )
    shift_handoff(shift_end="2026-11-24T10:00", shift_start="-24h", dry_run=True)
    assert _artifact_description(f"{key}-dry-run") == (
        "Dry run: hand-off for Primary On Call Schedule, shift Mon 2026-11-23 10:00 EST → Tue 2026-11-24 10:00 EST"
    )


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


NY = "America/New_York"
SLACK_RECORD = "oncall-slack-posted-primary-on-call-schedule"


@pytest.fixture
def fresh_record(env: Sandbox) -> Iterator[Sandbox]:
    """No hand-off recorded as posted for the schedule, before and after the test."""
    Variable.unset(SLACK_RECORD)
    yield env
    Variable.unset(SLACK_RECORD)


def _at(monkeypatch: pytest.MonkeyPatch, local_time: str) -> None:
    """The flows' clock reads `local_time` in New York (Prefect's own clock is left alone)."""
    instant = clock.parse_instant(local_time, NY)
    monkeypatch.setattr(clock, "now", lambda: instant)


def _concurrently(n: int, **params: Any) -> list[str]:
    results: list[str] = []
    runs = [threading.Thread(target=lambda: results.append(shift_handoff(**params))) for _ in range(n)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=180)
    return results


@pytest.mark.parametrize("runs", [2, 3])
def test_runs_at_once_with_the_default_end_post_one_message(
    fresh_record: Sandbox, monkeypatch: pytest.MonkeyPatch, runs: int
) -> None:
    """The default names the shift by the schedule's hand-off, not by the instant a run started."""
    _at(monkeypatch, "2026-11-24T13:00")
    fresh_record.faults("slack", latency_ms=300)  # later runs reach Slack while the first is in flight
    try:
        results = _concurrently(runs, deliver=["slack"])
    finally:
        fresh_record.app.rates.pop("slack")
    assert len(results) == runs and len(set(results)) == 1
    assert len(fresh_record.state.slack.messages) == 1
    _at(monkeypatch, "2026-11-24T16:30")  # a later click in the same shift: the same hand-off
    shift_handoff(deliver=["slack"])
    assert len(fresh_record.state.slack.messages) == 1


def test_a_run_by_hand_reports_the_last_finished_shift(env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, "2026-11-24T13:00")
    assert "Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST" in shift_handoff(deliver=["artifact"])
    _at(monkeypatch, "2026-11-24T09:59")  # the shift that ends at 10:00 today is still going
    assert "Tue 2026-11-10 10:00 EST → Tue 2026-11-17 10:00 EST" in shift_handoff(deliver=["artifact"])
    _at(monkeypatch, "2026-11-24T13:00")  # a span back counts from the same end
    daily = shift_handoff(shift_start="-24h", deliver=["artifact"])
    assert "Mon 2026-11-23 10:00 EST → Tue 2026-11-24 10:00 EST" in daily


def test_a_shift_end_in_the_future_is_refused(env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, "2026-11-24T13:00")
    state = shift_handoff(shift_end="2026-11-24T14:00", deliver=["slack"], return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError, match=r"^shift_end Tue 2026-11-24 14:00 EST is in the future"):
        state.result()
    assert env.state.slack.messages == []


def _scheduled_run(fire_local: str, parameters: dict[str, Any]) -> FlowRun:
    """A run made by a deployment's schedule (auto-scheduled, as the server's scheduler makes
    them), fetched as a worker would pick it up."""
    fire = clock.parse_instant(fire_local, NY)
    with get_client(sync_client=True) as client:
        deployment = client.create_deployment(
            flow_id=client.create_flow_from_name("shift-handoff"),
            name=f"scheduled-test-{fire_local}",
            schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron="0 9 * * 1-5", timezone=NY))],
            parameters=parameters,
        )
        window = {"start_time": (fire - timedelta(minutes=1)).isoformat(), "max_runs": 1}
        client.request("POST", "/deployments/{id}/schedule", path_params={"id": deployment}, json=window)
        [run] = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        )
    assert run.auto_scheduled and run.expected_start_time == fire
    return run


def _run_again(run: FlowRun) -> State:
    """The same flow run once more, as after a retry or on a second worker."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run.id, Scheduled(), force=True)
        again = client.read_flow_run(run.id)
    return run_flow(shift_handoff, flow_run=again, parameters=again.parameters, return_type="state")  # type: ignore[arg-type, return-value]


def test_a_scheduled_run_ends_at_its_fire_time_on_every_try(
    fresh_record: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The business-day summary fired at 09:00 covers the 24 hours before 09:00, however late it
    starts and however often it is tried."""
    _at(monkeypatch, "2026-11-24T11:47")  # picked up late
    run = _scheduled_run("2026-11-24T09:00", {"shift_start": "-24h", "deliver": ["artifact", "slack"]})
    first = run_flow(shift_handoff, flow_run=run, parameters=run.parameters, return_type="state")
    _at(monkeypatch, "2026-11-24T12:30")
    second = _run_again(run)
    for state in (first, second):
        assert "Mon 2026-11-23 09:00 EST → Tue 2026-11-24 09:00 EST" in state.result()  # type: ignore[union-attr]
    assert len(fresh_record.state.slack.messages) == 1


DAY = {"shift_end": "2026-11-24T10:00", "shift_start": "2026-11-23T10:00", "deliver": ["artifact", "slack"]}


def test_a_lost_slack_answer_is_not_posted_again_without_repost(fresh_record: Sandbox) -> None:
    """Slack posted and its answer was lost (a 502 here; a timeout raises the same UncertainError,
    tests/clients/test_slack.py): the run fails, and no rerun posts again unless told to."""
    messages = fresh_record.state.slack.messages
    fresh_record.script("/slack/", 502, after=True)
    state = shift_handoff(**DAY, return_state=True)
    assert len(messages) == 1
    assert state.is_failed()
    with pytest.raises(UncertainError, match=r"may or may not .* no run will post it again"):
        state.result()
    rerun = shift_handoff(**DAY, return_state=True)
    assert rerun.is_completed() and len(messages) == 1
    APILogHandler().flush()
    assert "no clear answer from Slack" in _logs(rerun.state_details.flow_run_id)  # type: ignore[arg-type]
    note = _artifact("slack-primary-on-call-schedule")
    assert "may or may not be in the channel" in note and "repost" in note
    shift_handoff(**DAY, repost=True)
    assert len(messages) == 2
    shift_handoff(**DAY)  # the repost was answered: recorded as posted
    assert len(messages) == 2


def test_a_proxy_page_is_not_recorded_as_posted(fresh_record: Sandbox) -> None:
    fresh_record.script("/slack/", 200, body=b"<html><h1>Blocked by proxy</h1></html>")
    state = shift_handoff(**DAY, return_state=True)
    assert state.is_failed() and fresh_record.state.slack.messages == []
    with pytest.raises(MalformedError, match="not Slack's answer"):
        state.result()
    shift_handoff(**DAY)  # the proxy let it through this time
    assert len(fresh_record.state.slack.messages) == 1


def test_a_refused_post_is_forgotten_so_the_rerun_posts(fresh_record: Sandbox) -> None:
    fresh_record.state.slack.archived = True
    try:
        assert shift_handoff(**DAY, return_state=True).is_failed()
    finally:
        fresh_record.state.slack.archived = False
    shift_handoff(**DAY)
    assert len(fresh_record.state.slack.messages) == 1


def test_the_trend_costs_one_read_of_the_past_once_then_none(env: Sandbox) -> None:
    """The first hand-off reads the 7 shifts before it in one query and keeps them; the next
    reads only its own shift. A stored shift that does not validate is recomputed, not shown."""
    from oncall.models import TimeWindow
    from oncall.trends import history_key

    week = TimeWindow(start=DEFAULT_ANCHOR - timedelta(days=7), end=DEFAULT_ANCHOR)
    name = history_key("Primary On Call Schedule", week)
    Variable.unset(name)

    def alert_reads() -> int:
        before = len(env.app.served)
        markdown = shift_handoff(shift_end="2026-11-24T10:00", deliver=["artifact"])
        assert "## Last 8 shifts" in markdown and "| Alerts |" in markdown
        return sum(s.system == "opsgenie" and s.path.endswith("/alerts") for s in env.app.served[before:])

    first, second = alert_reads(), alert_reads()
    stored = Variable.get(name)
    assert isinstance(stored, dict) and len(stored["shifts"]) == 8
    assert first == second + 1  # the past's one query (a page: the seeded weeks before are empty)
    stored["shifts"][0]["alerts"] = -5  # tampered with
    stored["shifts"][1] = "not a shift"
    Variable.set(name, stored, overwrite=True)
    assert alert_reads() == first  # recomputed from one read again
    again = Variable.get(name)
    assert isinstance(again, dict) and all(s["alerts"] >= 0 for s in again["shifts"])
    assert len(again["shifts"]) == 8
