"""Shared fixtures. Prefect's home is isolated before anything imports Prefect."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="oncall-test-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
for _key in [k for k in os.environ if k.startswith("ONCALL_")]:
    del os.environ[_key]

from oncall.sandbox.seed import DEFAULT_ANCHOR  # noqa: E402
from oncall.sandbox.server import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The seeded week, served once per session. Faults are cleared after every test."""
    with Sandbox.seeded(DEFAULT_ANCHOR) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        sb: Sandbox = request.getfixturevalue("sandbox")
        sb.app.rates.clear()
        sb.app.script.clear()
        sb.state.slack.messages.clear()
        sb.state.github.forget_writes()


class FakeSleep:
    """Records backoff sleeps instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()
