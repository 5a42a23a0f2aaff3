"""Shared fixtures. Prefect's home is isolated before anything imports Prefect."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

_HOME = tempfile.mkdtemp(prefix="oncall-test-prefect-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
for _key in [k for k in os.environ if k.startswith("ONCALL_")]:
    del os.environ[_key]
# A developer's own ./oncall.toml must never change what the suite sees; tests of the file set it.
os.environ["ONCALL_CONFIG"] = os.devnull

import logging  # noqa: E402
from pathlib import Path  # noqa: E402

from oncall.sandbox.seed import DEFAULT_ANCHOR, sandbox_service_account  # noqa: E402
from oncall.sandbox.server import Sandbox  # noqa: E402
from oncall.sources import REGISTRY  # noqa: E402

# Every credential the fakes accept is a canary: none may show up anywhere the product writes.
# Each source's (its raw credentials and their encodings, such as JSM's Basic) come from its FakeSpec.
CANARIES = (
    *(canary for spec in REGISTRY.values() for canary in spec.fake.canaries),
    "sandbox-github-token",
    "sandboxwebhooksecret",
    "canary-opsgenie-key-7f1e2d",
    "canaryhooksecret9c8b",
)


def canaries() -> tuple[str, ...]:
    """The fixed canaries (every source's among them) and the sandbox key's private-key body."""
    pem = sandbox_service_account()["private_key"].splitlines()[5]
    return (*CANARIES, pem)


def leaks(text: str) -> list[str]:
    return [c for c in canaries() if c in text]


class _Everything(logging.Handler):
    """Keeps every log record of the session, with its traceback, for the canary scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


@pytest.fixture(scope="session", autouse=True)
def _no_secret_leaves(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole suite: no canary in any log line or traceback, in any file a test's run
    wrote, or in any request body a fake received (issues, comments, documents, sheet rows, Slack)."""
    handler = _Everything()
    logging.getLogger().addHandler(handler)
    started: list[Sandbox] = []
    original = Sandbox.start

    def start(self: Sandbox) -> Sandbox:
        started.append(self)
        return original(self)

    Sandbox.start = start  # type: ignore[method-assign]
    yield
    Sandbox.start = original  # type: ignore[method-assign]
    logging.getLogger().removeHandler(handler)
    found = [("log", c) for t in handler.texts for c in leaks(t)]
    for path in Path(tmp_path_factory.getbasetemp()).rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            found += [(str(path), c) for c in leaks(path.read_text(errors="replace"))]
    for sb in started:
        for served in list(sb.app.served):
            found += [
                (f"{served.method} {served.path}", c)
                for c in leaks(served.body.decode(errors="replace") + served.query)
            ]
    assert not found, f"secrets leaked: {found[:10]}"


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
        sb.app.reseed()
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
