"""One Prefect test server for every flow test in the session."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from oncall.clients.google import INCIDENT_KEY
from oncall.sandbox.server import Sandbox
from tests.conftest import leaks


@pytest.fixture(autouse=True)
def _prefect_for_flow_tests(request: pytest.FixtureRequest) -> None:
    """Every flow test runs under the session's Prefect server, except in a module that says
    `NEEDS_PREFECT = False` (the fast tests: `task.fn()` on an in-memory source), which then
    never waits for the server to start (30-60 s on a busy machine, once per xdist worker)."""
    if getattr(request.module, "NEEDS_PREFECT", True):
        request.getfixturevalue("prefect_server")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    # Heartbeats off, as in Prefect's own suite (PrefectHQ/prefect#21062): the heartbeat
    # thread sleeps in whole seconds, so each sync flow run waited up to one for it to stop.
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        # CI starts it beside chaos, test-server and test-install on 2 cores: 120 s ran out there
        prefect_test_harness(server_startup_timeout=300),
    ):
        yield
        _no_secret_in_prefect()


def _no_secret_in_prefect() -> None:
    """Every flow and task log, artifact and final state message the session's runs left on the
    Prefect server is free of the sandbox's credentials."""
    from prefect.client.schemas.sorting import LogSort

    def every(read: Any) -> Iterator[Any]:
        offset = 0
        while page := read(limit=200, offset=offset):
            yield from page
            offset += len(page)

    with get_client(sync_client=True) as client:
        texts = [
            log.message for log in every(lambda **kw: client.read_logs(sort=LogSort.TIMESTAMP_ASC, **kw))
        ]
        texts += [str(a.data) + str(a.description) for a in every(client.read_artifacts)]
        texts += [str(r.state.message if r.state else "") for r in every(client.read_flow_runs)]
    found = [(text[:120], c) for text in texts for c in leaks(text)]
    # An xdist worker may get only flow tests that start no run: reading nothing is then no failure.
    assert texts or os.environ.get("PYTEST_XDIST_WORKER"), "read nothing back from the Prefect server"
    assert not found, f"secrets leaked into Prefect: {found[:10]}"


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def coe_deployment(prefect_server: None) -> UUID:
    """coe-prep deployed with the event trigger exactly as prefect.yaml declares it. Applied for
    each test (an upsert by name): doctor's tests delete the deployments they check."""
    from flows.coe_prep import coe_prep

    spec = next(
        d
        for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
        if d["name"] == "coe-prep"
    )
    trigger = DeploymentEventTrigger(**{k: v for k, v in spec["triggers"][0].items() if k != "type"})
    return coe_prep.to_deployment(name="coe-prep", triggers=[trigger]).apply()


def wait_for_runs(deployment_id: UUID, seconds: float = 30, **parameters: str) -> list[Any]:
    """Flow runs a trigger created with these parameters, polled until one appears."""
    deadline = time.monotonic() + seconds
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
            )
        found = [r for r in runs if parameters.items() <= r.parameters.items()]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


LONG = "inc-7f3a-0001"  # the seeded 47-minute incident
_repos = count(1)


def new_repo(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, out: Path, prefix: str) -> str:
    """A new, empty repository in the GitHub fake as ONCALL_GITHUB_REPO (each test files into its
    own), with the sandbox's settings, no pause between GitHub writes, and outputs under `out`."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    name = f"acme/{prefix}-{next(_repos)}"
    sandbox.state.github.repo(name)
    monkeypatch.setenv("ONCALL_GITHUB_REPO", name)
    monkeypatch.setenv("ONCALL_GITHUB_WRITE_INTERVAL", "0")
    monkeypatch.setenv("ONCALL_OUT_DIR", str(out))
    return name


@pytest.fixture
def google(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    yield sandbox
    forget_coes(sandbox)  # each test starts without COEs


def forget_coes(sandbox: Sandbox) -> None:
    """Remove every COE document, the flows' record of each, and every tracker row they made."""
    from prefect.variables import Variable

    from tasks.coe import copy_record_name

    state = sandbox.state.google
    for file_id in [f for f, meta in state.files.items() if meta["appProperties"]]:
        Variable.unset(copy_record_name(state.files[file_id]["appProperties"][INCIDENT_KEY]))
        del state.files[file_id]
        state.docs.pop(file_id, None)
    del sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"][1:]


def coes(sandbox: Sandbox, incident: str) -> list[dict[str, Any]]:
    return [
        f for f in sandbox.state.google.files.values() if f["appProperties"].get(INCIDENT_KEY) == incident
    ]


def rows(sandbox: Sandbox, incident: str) -> list[list[str]]:
    return [r for r in sandbox.state.sheets[sandbox.state.coe_sheet]["COE tracker"] if r and r[0] == incident]
