"""The one place the GitHub client reaches into PyGithub's private state (`_send_through`): PyGithub
has no public seam for a client's transport, so these tests fail loudly the day a PyGithub release
changes what the client relies on, instead of letting its requests go around the HTTP stage
(PyGithub's urllib3 adapter, with no retries, no rate-limit hold, no error tree)."""

from __future__ import annotations

from itertools import count
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import requests
import requests.adapters

from oncall.clients.github import GitHubClient, _send_through
from oncall.clients.http import ApiClient
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep

_repos = count(1)


@pytest.fixture
def around_the_stage(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request that reaches a urllib3 adapter (PyGithub's own) instead of the stage's."""
    reached: list[str] = []

    def send(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **_: Any) -> Any:
        reached.append(f"{request.method} {request.url}")
        raise AssertionError(f"PyGithub sent {request.method} {request.url} around the HTTP stage")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return reached


def test_every_call_the_product_makes_goes_through_the_stage(
    gh: GitHubClient, sandbox: Sandbox, around_the_stage: list[str]
) -> None:
    """The client's whole surface, issues and git side, with PyGithub's own transport made to fail:
    each request must reach the sandbox through the stage (which counts it) and none urllib3."""
    repo = f"acme/seam-{next(_repos)}"
    fake = sandbox.state.github.repo(repo)
    fake.files["docs/runbooks/a.md@main"] = "# A\n"
    sandbox.state.github.label(fake, "runbook-gap")
    sandbox.app.served.clear()

    issue = gh.create_issue(repo, "Runbook gap: A", "body", ["runbook-gap"])
    assert gh.add_labels(repo, issue.number, ["runbook-gap"]) == ("runbook-gap",)
    gh.comment(repo, issue.number, "seen")
    assert gh.comments(repo, issue.number) == ["seen"]
    assert gh.edit(repo, issue.number, state="closed").state == "closed"
    assert [i.number for i in gh.list_issues(repo, "runbook-gap")] == [issue.number]
    assert gh.login() == sandbox.state.github.login
    assert gh.check(repo).startswith("GitHub: token accepted")
    assert gh.access(repo).role == "admin" and gh.has_label(repo, "runbook-gap")
    assert gh.read_file(repo, "docs/runbooks/a.md", "main") == "# A\n"
    assert gh.tree(repo, "main") == ["docs/runbooks/a.md"]
    main = gh.branch_sha(repo, gh.default_branch(repo))
    assert main is not None
    gh.create_branch(repo, "runbook/b", main)
    gh.put_file(repo, "docs/runbooks/b.md", "runbook/b", "Add B", "# B\n", None)
    assert gh.file(repo, "docs/runbooks/b.md", "runbook/b") is not None
    made = gh.create_pull(repo, "Runbook: add B", "b", "runbook/b", "main")
    assert gh.find_pull(repo, "runbook/b") == made

    assert around_the_stage == []
    assert sum(1 for s in sandbox.app.served if s.system == "github") >= 20


def test_a_url_on_another_github_host_goes_through_the_stage_too(
    fake_sleep: FakeSleep, around_the_stage: list[str]
) -> None:
    """PyGithub opens a connection of its own for a URL on another host of the same GitHub (an
    upload host, a redirect): that connection sends through the stage as well."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.host}{request.url.path}")
        return httpx.Response(200, json={"ok": True})

    with GitHubClient(
        "sandbox-github-token-seam",
        base_url="https://api.github.test",
        transport=httpx.MockTransport(answer),
        sleep=fake_sleep,
    ) as gh:
        _, data = gh.gh.requester.requestJsonAndCheck("GET", "https://api.github.test/rate_limit")
        _, other = gh.gh.requester.requestJsonAndCheck("GET", "https://uploads.github.test/meta")
    assert data["ok"] is other["ok"] is True
    assert seen == ["GET api.github.test/rate_limit", "GET uploads.github.test/meta"]
    assert around_the_stage == []


def test_a_pygithub_without_the_private_names_fails_at_once_and_says_what_to_do() -> None:
    """The day PyGithub renames what `_send_through` wraps, building a client fails with a message
    naming the fix, rather than quietly sending through urllib3."""
    api = ApiClient(system="GitHub", base_url="https://api.github.test", credential_setting="X")
    renamed = SimpleNamespace(requester=SimpleNamespace(_Requester__connectionClass=object))
    with api, pytest.raises(RuntimeError, match=r"_send_through") as caught:
        _send_through(renamed, api.adapter())  # type: ignore[arg-type]
    assert "_Requester__httpsConnectionClass" in str(caught.value)
