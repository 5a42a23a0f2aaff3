"""prefect.yaml deployed to a real local Prefect server (SQLite), then read back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(
                    f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _prefect(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_every_deployment_reads_back_as_declared(server: dict[str, str]) -> None:
    _prefect(server, "work-pool", "create", "oncall", "--type", "process")
    _prefect(server, "--no-prompt", "deploy", "--all")
    script = """
import json
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as c:
    out = {}
    for d in c.read_deployments():
        out[d.name] = {
            "entrypoint": d.entrypoint, "pool": d.work_pool_name, "pull": d.pull_steps,
            "schedules": sorted([s.slug, getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None),
                                 s.active, getattr(s.schedule, "interval", None) and s.schedule.interval.total_seconds()]
                                for s in d.schedules),
            "params": {k: v.get("description") for k, v in d.parameter_openapi_schema["properties"].items()},
        }
    out["_automations"] = [[a.name, sorted(a.trigger.expect), a.trigger.match.root,
                            [act.model_dump(mode="json").get("parameters") for act in a.actions]]
                           for a in c.read_automations()]
    print(json.dumps(out))
"""
    import json

    found = json.loads(
        subprocess.run(
            [sys.executable, "-c", script],
            env=server,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    assert set(found) - {"_automations"} == {"shift-handoff", "runbook-gaps", "incident-watch", "coe-prep"}
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
        ["business-day-summary", "0 9 * * 1-5", "America/New_York", True, None],
        ["weekly-handoff", "0 10 * * 2", "America/New_York", True, None],
    ]
    assert found["runbook-gaps"]["schedules"] == [
        ["daily-gaps", "30 8 * * *", "America/New_York", True, None]
    ]
    assert found["incident-watch"]["schedules"] == [["every-5-minutes", None, "UTC", True, 300.0]]
    assert found["coe-prep"]["schedules"] == []
    [[_, expect, match, params]] = found["_automations"]
    assert expect == ["oncall.incident.closed"] and match == {"prefect.resource.id": "oncall.incident.*"}
    assert params == [{"incident_id": "{{ event.resource['oncall.incident.id'] }}"}]
