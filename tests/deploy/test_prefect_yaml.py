"""prefect.yaml deployed to a real local Prefect server (SQLite), then read back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import prefect_server

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One server for the module: each test deploys over what the one before left."""
    with prefect_server(tmp_path_factory.mktemp("prefect-server"), dict(os.environ)) as env:
        yield env


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _process_pool(env: dict[str, str], name: str = "oncall") -> None:
    """What `prefect work-pool create NAME --type process --overwrite` makes (the process worker's
    default job template), made over REST: the command imports Prefect in a child first, 5-8 s
    on a busy machine each time."""
    from prefect.workers.process import ProcessWorker

    api = env["PREFECT_API_URL"]
    pool = {"type": "process", "base_job_template": ProcessWorker.get_default_base_job_template()}
    made = httpx.post(f"{api}/work_pools/", json={"name": name, **pool}, timeout=60)
    if made.status_code == 409:  # there already: overwritten, as --overwrite does
        httpx.patch(
            f"{api}/work_pools/{name}", json={"base_job_template": pool["base_job_template"]}, timeout=60
        ).raise_for_status()
    else:
        made.raise_for_status()


def _oncall_deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`oncall deploy` as a team runs it, through the command line, from the checkout's root."""
    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", "deploy", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _read_back(env: dict[str, str]) -> dict[str, Any]:
    """What the server holds, read over its REST API: a client in a subprocess would import
    Prefect again (8 s on a busy machine) for each of the three reads."""
    api = env["PREFECT_API_URL"]
    out: dict[str, Any] = {}
    for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=60).raise_for_status().json():
        pool = d["work_pool_name"]
        out[d["name"]] = {
            "entrypoint": d["entrypoint"],
            "pool": pool,
            "pull": d["pull_steps"],
            "schedules": sorted(
                [
                    s["slug"],
                    s["schedule"].get("cron"),
                    s["schedule"].get("timezone"),
                    s["active"],
                    s["schedule"].get("interval"),
                ]
                for s in d["schedules"]
            ),
            "rrules": [
                [s["slug"], s["schedule"]["rrule"], s["schedule"].get("timezone")]
                for s in d["schedules"]
                if s["schedule"].get("rrule")
            ],
            "schedule_parameters": {s["slug"]: s["parameters"] for s in d["schedules"]},
            "params": {
                k: v.get("description") for k, v in d["parameter_openapi_schema"]["properties"].items()
            },
        }
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=60).raise_for_status().json()
    out["_automations"] = [
        [
            a["name"],
            sorted(a["trigger"]["expect"]),
            a["trigger"]["match"],
            [act.get("parameters") for act in a["actions"]],
        ]
        for a in automations
    ]
    return out


def _team_env(server: dict[str, str], config: Path) -> dict[str, str]:
    env = {k: v for k, v in server.items() if not k.startswith("ONCALL_")}
    return {**env, "ONCALL_CONFIG": str(config)}


def test_every_deployment_reads_back_as_declared(server: dict[str, str], tmp_path: Path) -> None:
    """Plain `prefect deploy --all` deploys the file as written: the default settings' plan."""
    _process_pool(server)
    _prefect(server, "--no-prompt", "deploy", "--all")
    found = _read_back(server)
    assert set(found) - {"_automations"} == {
        "shift-handoff",
        "runbook-gaps",
        "incident-watch",
        "coe-prep",
        "coe-review",
        "coe-actions",
        "ops-review",
        "sre-requests",
    }
    # every other Thursday at 10:00 in the team's zone, which cron cannot say
    [[slug, rule, zone]] = found["coe-review"]["rrules"]
    assert (slug, zone) == ("review-meeting", "America/New_York")
    assert "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH" in rule and "T100000" in rule
    for name, d in found.items():
        if name == "_automations":
            continue
        assert d["pool"] == "oncall"
        assert d["pull"] == [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ prefect.variables.oncall_checkout }}"
                }
            }
        ]  # resolved by the worker
        assert all(d["params"].values()), f"{name} has a parameter without a description: {d['params']}"
    assert found["shift-handoff"]["schedules"] == [
        ["business-day-summary", "0 9 * * 2-5", "America/New_York", True, None],
        ["business-day-summary-mon", "0 9 * * 1", "America/New_York", True, None],
        ["weekly-handoff", "0 10 * * 2", "America/New_York", True, None],
    ]
    assert found["shift-handoff"]["schedule_parameters"]["business-day-summary-mon"]["shift_start"] == "-72h"
    assert found["runbook-gaps"]["schedules"] == [
        ["daily-gaps", "30 8 * * *", "America/New_York", True, None]
    ]
    assert found["incident-watch"]["schedules"] == [["every-5-minutes", None, "UTC", True, 300.0]]
    assert found["coe-prep"]["schedules"] == []
    assert found["ops-review"]["schedules"] == [
        ["weekly-ops-review", "0 10 * * 1", "America/New_York", True, None]
    ]
    # off until the team names its @SRE channels (oncall deploy turns it on then)
    assert found["sre-requests"]["schedules"] == [["ticket-sweep", None, "UTC", False, 600.0]]
    triggers = {tuple(expect): (match, params) for _, expect, match, params in found["_automations"]}
    assert triggers == {
        ("oncall.incident.closed",): (
            {"prefect.resource.id": "oncall.incident.*"},
            [{"incident_id": "{{ event.resource['oncall.incident.id'] }}"}],
        ),
        ("oncall.sre.request.ticket",): (
            {"prefect.resource.id": "slack.message.*"},
            [{"channel": "{{ event.resource['channel'] }}", "ts": "{{ event.resource['ts'] }}"}],
        ),
    }


def test_oncall_deploy_writes_the_team_settings_into_the_schedules(
    server: dict[str, str], tmp_path: Path
) -> None:
    """The team's oncall.toml (a file Prefect's templating cannot read) reaches every hand-off
    schedule; a second deploy after the team changed its hours leaves no stale schedule behind."""
    from oncall.deploy_plan import deployment_schedules
    from oncall.settings import file_layer, load_settings

    _process_pool(server)
    config = tmp_path / "oncall.toml"
    config.write_text(
        'schedule = "Ops Rota"\nteam_timezone = "Europe/Berlin"\nhandoff_cron = "0 9 * * 1"\n'
        'business_hours = "Mon-Fri 08:00-16:00"\n'
    )
    done = _oncall_deploy(_team_env(server, config))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = _read_back(server)
    assert found["shift-handoff"]["schedules"] == [
        ["business-day-summary", "0 8 * * 2-5", "Europe/Berlin", True, None],
        ["business-day-summary-mon", "0 8 * * 1", "Europe/Berlin", True, None],
        ["weekly-handoff", "0 9 * * 1", "Europe/Berlin", True, None],
    ]
    assert found["shift-handoff"]["schedule_parameters"] == {
        "weekly-handoff": {"schedule": "Ops Rota"},
        "business-day-summary": {
            "schedule": "Ops Rota",
            "shift_start": "-24h",
            "deliver": ["artifact", "slack"],
        },
        "business-day-summary-mon": {
            "schedule": "Ops Rota",
            "shift_start": "-72h",
            "deliver": ["artifact", "slack"],
        },
    }
    assert found["runbook-gaps"]["schedules"] == [["daily-gaps", "30 8 * * *", "Europe/Berlin", True, None]]
    # What doctor compares with the server is what was deployed.
    plan = deployment_schedules(load_settings(layers=[file_layer(config)]))
    for name, planned in plan.items():
        got = {(s[0], s[1] or "", s[2]) for s in found[name]["schedules"]}
        assert got == {(s.slug, s.cron, s.timezone) for s in planned}
        assert {(r[0], r[1]) for r in found[name]["rrules"]} == {
            (s.slug, s.rrule) for s in planned if s.rrule
        }
        assert found[name]["schedule_parameters"] == {s.slug: s.parameters for s in planned}

    config.write_text('schedule = "Ops Rota"\nbusiness_hours = "Mon-Sun 07:00-19:00"\n')
    done = _oncall_deploy(_team_env(server, config))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert _read_back(server)["shift-handoff"]["schedules"] == [
        ["business-day-summary", "0 7 * * 0-6", "America/New_York", True, None],
        ["weekly-handoff", "0 10 * * 2", "America/New_York", True, None],
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('business_hours = "weekdays"\n', "business_hours"),
        ('handoff_cron = "every tuesday"\n', "HANDOFF_CRON"),
        ('team_timezone = "Mars/Olympus"\n', "TEAM_TIMEZONE"),
    ],
)
def test_oncall_deploy_refuses_bad_settings_before_prefect(
    server: dict[str, str], tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "oncall.toml"
    config.write_text(toml)
    env = {**_team_env(server, config), "PREFECT_API_URL": "http://127.0.0.1:9/api"}  # never reached
    done = _oncall_deploy(env)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("oncall deploy: ") and message in line, line


def test_oncall_deploy_names_an_unset_image_for_kubernetes(server: dict[str, str], tmp_path: Path) -> None:
    env = {**_team_env(server, Path("/dev/null")), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    env.pop("ONCALL_IMAGE", None)
    done = _oncall_deploy(env, "--prefect-file", "deployments/kubernetes/prefect.yaml")
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert "ONCALL_IMAGE" in line and "deployments/kubernetes/prefect.yaml" in line, line


def test_oncall_deploy_names_a_missing_work_pool_before_deploying(server: dict[str, str]) -> None:
    """Prefect would stop each deployment with a ValueError and a traceback: one line first,
    naming the pool and the command that creates it."""
    env = {**_team_env(server, Path("/dev/null")), "ONCALL_IMAGE": "registry.example/oncall:1"}
    done = _oncall_deploy(env, "--prefect-file", "deployments/kubernetes/prefect.yaml")
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    [line] = done.stderr.splitlines()
    assert "work pool 'oncall-k8s'" in line and "prefect work-pool create oncall-k8s" in line, line
    assert "deploying" not in done.stdout
