"""`oncall doctor`'s Prefect checks on the session's test server: the Secret blocks and the
`oncall-settings` Variable as a worker reads them, what differs from this shell, and the
deployments with their schedules."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval
from prefect.variables import Variable

from deployments.doctor import run_doctor
from deployments.doctor_checks import Check
from deployments.doctor_prefect import DEPLOYMENTS, prefect_checks
from oncall.sandbox.server import Sandbox
from oncall.settings import SECRET_BLOCKS, load_settings
from tasks.config import SETTINGS_VARIABLE


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """This shell's settings: an OpsGenie key and a schedule, no config file; nothing on the server."""
    monkeypatch.setenv("ONCALL_CONFIG", "/dev/null")
    monkeypatch.setenv("ONCALL_OPSGENIE_API_KEY", "doctor-shell-key-5150")
    monkeypatch.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    _empty_server()  # other tests on the shared server may have left blocks or deployments
    yield monkeypatch
    _empty_server()


def _empty_server() -> None:
    Variable.unset(SETTINGS_VARIABLE)
    for block in SECRET_BLOCKS.values():
        with contextlib.suppress(ValueError):  # not saved
            Secret.delete(block)
    with get_client(sync_client=True) as client:
        for name in DEPLOYMENTS:
            with contextlib.suppress(ObjectNotFound):  # not deployed
                client.delete_deployment(client.read_deployment_by_name(f"{name}/{name}").id)


def by_name(checks: list[Check]) -> dict[str, list[Check]]:
    out: dict[str, list[Check]] = {}
    for c in checks:
        out.setdefault(c.name, []).append(c)
    return out


def statuses(checks: dict[str, list[Check]], name: str) -> list[str]:
    assert name in checks, sorted(checks)
    return [c.status.value for c in checks[name]]


def failed(checks: dict[str, list[Check]], name: str) -> bool:
    """The check failed (one fail line or more) and said nothing was fine."""
    found = statuses(checks, name)
    return "fail" in found and "ok" not in found


def text(checks: dict[str, list[Check]], name: str) -> str:
    return " ".join(f"{c.detail} {c.fix}" for c in checks[name])


def deploy(name: str, **options: Any) -> None:
    from flows.coe_prep import coe_prep
    from flows.incident_watch import incident_watch
    from flows.runbook_gaps import runbook_gaps
    from flows.shift_handoff import shift_handoff

    flows = {
        "shift-handoff": shift_handoff,
        "runbook-gaps": runbook_gaps,
        "incident-watch": incident_watch,
        "coe-prep": coe_prep,
    }
    flows[name].to_deployment(name=name, **options).apply()


def test_an_empty_server_fails_the_source_credential_and_every_deployment(shell: pytest.MonkeyPatch) -> None:
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.server") == ["ok"]
    assert statuses(checks, "prefect.variable") == ["warn"]
    assert "fail" in statuses(checks, "prefect.secrets")
    assert SECRET_BLOCKS["opsgenie_api_key"] in text(checks, "prefect.secrets")
    for name in DEPLOYMENTS:
        assert statuses(checks, f"prefect.deployment.{name}") == ["fail"]
        assert "does not exist" in text(checks, f"prefect.deployment.{name}")


def test_values_that_differ_from_this_shell_are_named_and_secrets_never_shown(
    shell: pytest.MonkeyPatch,
) -> None:
    Variable.set(SETTINGS_VARIABLE, {"schedule": "Primary On Call Schedule"}, overwrite=True)
    Secret(value="doctor-worker-key-6262").save(SECRET_BLOCKS["opsgenie_api_key"], overwrite=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.variable") == ["ok"]
    assert "fail" not in statuses(checks, "prefect.secrets")
    differences = text(checks, "prefect.differences")
    assert statuses(checks, "prefect.differences") == ["warn"]
    assert "schedule ('Ops Weekly' here, 'Primary On Call Schedule' for workers)" in differences
    assert "opsgenie_api_key (differs)" in differences
    dumped = json.dumps([c.model_dump(mode="json") for cs in checks.values() for c in cs])
    assert "doctor-worker-key-6262" not in dumped and "doctor-shell-key-5150" not in dumped


def test_the_same_values_as_the_shell_are_ok(shell: pytest.MonkeyPatch) -> None:
    Variable.set(SETTINGS_VARIABLE, {"schedule": "Ops Weekly"}, overwrite=True)
    Secret(value="doctor-shell-key-5150").save(SECRET_BLOCKS["opsgenie_api_key"], overwrite=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.differences") == ["ok"]


def test_a_variable_workers_cannot_read_fails_naming_it(shell: pytest.MonkeyPatch) -> None:
    Variable.set(SETTINGS_VARIABLE, {"escalation_minutes": 0}, overwrite=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.settings") == ["fail"]
    said = text(checks, "prefect.settings")
    assert "ONCALL_ESCALATION_MINUTES" in said and SETTINGS_VARIABLE in said


def test_sandbox_values_left_for_workers_warn(shell: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    Variable.set(SETTINGS_VARIABLE, {"opsgenie_base_url": sandbox.opsgenie_url}, overwrite=True)
    Secret(value=sandbox.slack_webhook_url).save(SECRET_BLOCKS["slack_webhook_url"], overwrite=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.sandbox") == ["warn"]
    said = text(checks, "prefect.sandbox")
    assert "opsgenie_base_url" in said and SECRET_BLOCKS["slack_webhook_url"] in said
    assert sandbox.slack_webhook_url not in said


def planned(name: str) -> list[Any]:
    """The deployment's schedules as `oncall deploy` makes them from this shell's settings."""
    from oncall.deploy_plan import deployment_schedules

    return [
        Cron(s.cron, timezone=s.timezone, slug=s.slug, parameters=s.parameters, active=s.active)
        for s in deployment_schedules(load_settings())[name]
    ]


def deploy_as_planned() -> None:
    deploy("shift-handoff", schedules=planned("shift-handoff"))
    deploy("runbook-gaps", schedules=planned("runbook-gaps"))
    deploy("incident-watch", schedules=[Interval(300, slug="every-5-minutes")])
    deploy("coe-prep")


def test_deployments_as_the_settings_plan_them_pass(shell: pytest.MonkeyPatch) -> None:
    deploy_as_planned()
    checks = by_name(prefect_checks(load_settings()))
    for name in DEPLOYMENTS:
        assert statuses(checks, f"prefect.deployment.{name}") == ["ok"], checks[f"prefect.deployment.{name}"]
    assert "weekly-handoff" in text(checks, "prefect.deployment.shift-handoff")


def test_a_schedule_that_drifted_from_the_settings_fails(shell: pytest.MonkeyPatch) -> None:
    deploy_as_planned()
    shell.setenv("ONCALL_TEAM_TIMEZONE", "Europe/Berlin")  # the team moved; nobody redeployed
    checks = by_name(prefect_checks(load_settings()))
    for name in ("shift-handoff", "runbook-gaps"):
        assert failed(checks, f"prefect.deployment.{name}")
        said = text(checks, f"prefect.deployment.{name}")
        assert "Europe/Berlin" in said and "America/New_York" in said and "oncall deploy" in said


def test_a_missing_planned_schedule_fails_naming_it(shell: pytest.MonkeyPatch) -> None:
    weekly, *summaries = planned("shift-handoff")
    deploy("shift-handoff", schedules=[weekly])
    checks = by_name(prefect_checks(load_settings()))
    assert failed(checks, "prefect.deployment.shift-handoff")
    said = text(checks, "prefect.deployment.shift-handoff")
    assert summaries and all(f"{s.slug!r} is missing" in said for s in summaries)


def test_a_hand_off_schedule_for_another_schedule_fails_naming_its_slug(shell: pytest.MonkeyPatch) -> None:
    weekly, *summaries = planned("shift-handoff")
    other = Cron(
        weekly.cron,
        timezone=weekly.timezone,
        slug=weekly.slug,
        parameters={"schedule": "Primary On Call Schedule"},
    )
    deploy("shift-handoff", schedules=[other, *summaries])
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.deployment.shift-handoff") == ["fail"]
    said = text(checks, "prefect.deployment.shift-handoff")
    assert f"'{weekly.slug}' hands off 'Primary On Call Schedule'" in said and "'Ops Weekly'" in said
    assert all(s.slug not in said for s in summaries)


def test_a_hand_off_without_the_parameter_uses_the_workers_schedule(shell: pytest.MonkeyPatch) -> None:
    weekly = planned("shift-handoff")[0]
    bare = Cron(weekly.cron, timezone=weekly.timezone, slug=weekly.slug)
    deploy("shift-handoff", schedules=[bare, *planned("shift-handoff")[1:]])
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.deployment.shift-handoff") == ["fail"]  # workers: the default
    Variable.set(SETTINGS_VARIABLE, {"schedule": "Ops Weekly"}, overwrite=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.deployment.shift-handoff") == ["ok"]


def test_inactive_schedules_and_paused_deployments_fail(shell: pytest.MonkeyPatch) -> None:
    deploy("runbook-gaps", schedules=[Cron("30 8 * * *", slug="daily-gaps", active=False)])
    deploy("incident-watch", schedules=[Interval(300, slug="every-5-minutes")], paused=True)
    deploy("coe-prep", paused=True)
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.deployment.runbook-gaps") == ["fail"]
    assert "none active" in text(checks, "prefect.deployment.runbook-gaps")
    for name in ("incident-watch", "coe-prep"):
        assert statuses(checks, f"prefect.deployment.{name}") == ["fail"]
        assert "paused" in text(checks, f"prefect.deployment.{name}")


def test_an_inactive_or_unplanned_schedule_beside_the_planned_ones_warns(shell: pytest.MonkeyPatch) -> None:
    deploy(
        "runbook-gaps", schedules=[*planned("runbook-gaps"), Cron("0 12 * * *", slug="noon", active=False)]
    )
    checks = by_name(prefect_checks(load_settings()))
    assert statuses(checks, "prefect.deployment.runbook-gaps") == ["warn", "warn", "ok"]
    said = text(checks, "prefect.deployment.runbook-gaps")
    assert "'noon' of 'runbook-gaps' is inactive" in said and "no longer make: noon" in said


def test_the_whole_report_fails_on_a_missing_deployment(shell: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    for key, value in sandbox.env().items():
        shell.setenv(key, value)
    shell.delenv("ONCALL_SCHEDULE")  # the sandbox's schedule is the default one
    lines: list[str] = []
    assert run_doctor(lines.append, as_json=True) == 1
    data = json.loads(lines[0])
    failed = {c["name"] for c in data["checks"] if c["status"] == "fail"}
    assert failed >= {f"prefect.deployment.{name}" for name in DEPLOYMENTS}
    assert not any(n.startswith(("source.", "github.", "google.", "slack.")) for n in failed), data


def test_the_checks_change_nothing_on_the_server(shell: pytest.MonkeyPatch) -> None:
    """Doctor only reads: no run is made, no deployment or schedule is touched."""
    from flows.shift_handoff import shift_handoff

    deploy("shift-handoff", schedules=[Cron("0 10 * * 2", slug="weekly-handoff")])
    with get_client(sync_client=True) as client:
        client.create_flow_run(shift_handoff, parameters={"schedule": "Ops Weekly"})
        before = client.read_deployment_by_name("shift-handoff/shift-handoff")
        runs = len(client.read_flow_runs())
    prefect_checks(load_settings())
    with get_client(sync_client=True) as client:
        after = client.read_deployment_by_name("shift-handoff/shift-handoff")
        assert len(client.read_flow_runs()) == runs
    assert after.updated == before.updated and after.schedules == before.schedules
