"""The GitHub client on the session's sandbox, for the client tests that drive it directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oncall.clients.github import GitHubClient
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep


@pytest.fixture
def gh(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[GitHubClient]:
    with GitHubClient(
        sandbox.state.github.token, base_url=sandbox.github_url, write_interval=0, sleep=fake_sleep
    ) as client:
        yield client
