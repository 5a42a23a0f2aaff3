"""One edge stage for every client: GitHub (PyGithub) and Sheets (gspread) retry, hold after a
rate limit, classify and scrub through `oncall.clients.http`, as the httpx clients do, and no
second retry loop sits above or below it (a fault is tried exactly as often as the policy says)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

import pytest
from github.GithubException import UnknownObjectException

from oncall.clients.github import GitHubClient
from oncall.clients.google import GoogleWorkspace
from oncall.clients.http import decode_json
from oncall.errors import (
    NotFoundError,
    OutsideError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
    UncertainError,
)
from oncall.retry import RetryPolicy
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep

TAB = "COE tracker"
_repos = count(1)


@pytest.fixture(autouse=True)
def fresh(sandbox: Sandbox) -> Iterator[None]:
    """Each test counts only its own requests, and leaves no scripted fault behind."""
    sandbox.app.served.clear()
    yield
    sandbox.app.script.clear()


@pytest.fixture
def repo(sandbox: Sandbox) -> str:
    name = f"acme/edge-{next(_repos)}"
    sandbox.state.github.repo(name)
    return name


def _github(sandbox: Sandbox, sleep: FakeSleep, attempts: int = 5) -> GitHubClient:
    return GitHubClient(
        sandbox.state.github.token,
        base_url=sandbox.github_url,
        write_interval=0,
        retry=RetryPolicy(attempts=attempts, base_delay=0.5),
        sleep=sleep,
    )


def _google(sandbox: Sandbox, sleep: FakeSleep, attempts: int = 6) -> GoogleWorkspace:
    return GoogleWorkspace(
        sandbox.state.service_account,
        base_url=sandbox.google_url,
        retry=RetryPolicy(attempts=attempts, base_delay=0.5),
        sleep=sleep,
    )


@pytest.fixture
def gh(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[GitHubClient]:
    with _github(sandbox, fake_sleep) as client:
        yield client


@pytest.fixture
def gw(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[GoogleWorkspace]:
    with _google(sandbox, fake_sleep) as client:
        yield client


def _served(sandbox: Sandbox, method: str, path: str) -> list[int]:
    """The statuses the fake answered to `method` on exactly `path`, in order. A request is logged
    when it arrives and its status set once answered, which may be just after the client has it."""
    deadline = time.monotonic() + 2
    while True:
        statuses = [s.status for s in list(sandbox.app.served) if s.method == method and s.path == path]
        if 0 not in statuses or time.monotonic() > deadline:
            return statuses
        time.sleep(0.01)


def _values(sandbox: Sandbox) -> str:
    return f"/google/sheets/v4/spreadsheets/{sandbox.state.coe_sheet}/values/'{TAB}'!A:I"


# A 503 then a 200: retried once, after one backoff, on both SDK paths.


def test_a_github_read_that_gets_a_503_is_retried_once_through_the_stage(
    gh: GitHubClient, sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    sandbox.script(f"/github/repos/{repo}", 503, method="GET")
    assert gh.default_branch(repo) == "main"
    assert _served(sandbox, "GET", f"/github/repos/{repo}") == [503, 200]
    assert len(fake_sleep.calls) == 1 and 0.25 <= fake_sleep.calls[0] <= 0.5  # the policy's first backoff


def test_a_sheets_read_that_gets_a_503_is_retried_once_through_the_stage(
    gw: GoogleWorkspace, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    sandbox.script(_values(sandbox), 503, method="GET")
    assert gw.find_row(sandbox.state.coe_sheet, TAB, "inc-none") == (None, [])
    assert _served(sandbox, "GET", _values(sandbox)) == [503, 200]
    assert len(fake_sleep.calls) == 1 and 0.25 <= fake_sleep.calls[0] <= 0.5


# A rate limit holds the whole client: the next request waits out what the vendor asked.


def test_a_github_429_holds_the_client_not_just_the_request(
    sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    sandbox.script(f"/github/repos/{repo}", 429, method="GET", headers={"Retry-After": "7"})
    with _github(sandbox, fake_sleep) as held, _github(sandbox, FakeSleep()) as other:
        assert held.default_branch(repo) == "main"
        assert fake_sleep.calls == [7.0]
        other.check(repo)  # another client (another task's, say) is not held by this one's pause
        held.check(repo)  # a new request on the held client waits out the pause (the fake clock stood still)
    assert len(fake_sleep.calls) == 2 and 6.0 <= fake_sleep.calls[1] <= 7.0


def test_a_sheets_429_holds_the_sheets_client_and_a_lasting_one_is_rate_limited(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    sheet = sandbox.state.coe_sheet
    sandbox.script(_values(sandbox), 429, method="GET", headers={"Retry-After": "5"})
    with _google(sandbox, fake_sleep) as gw:
        gw.find_row(sheet, TAB, "inc-none")
        assert fake_sleep.calls == [5.0]
        gw.get_file(sandbox.state.coe_template)  # Drive has quotas of its own: not held
        assert len(fake_sleep.calls) == 1
        gw.sheet_tabs(sheet)  # Sheets is
        assert len(fake_sleep.calls) == 2 and 4.0 <= fake_sleep.calls[1] <= 5.0
    sandbox.script(_values(sandbox), 429, method="GET", times=50, headers={"Retry-After": "0"})
    with _google(sandbox, FakeSleep(), attempts=3) as gw, pytest.raises(RateLimitedError) as limited:
        gw.find_row(sheet, TAB, "inc-none")
    sandbox.app.script.clear()
    assert not isinstance(limited.value, UnavailableError) and limited.value.status == 429
    assert "reading the COE tracker: still rate limited after 3 tries" in str(limited.value)


def test_a_sheets_429_on_a_write_is_retried_as_the_vendor_did_nothing(
    gw: GoogleWorkspace, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    sheet = sandbox.state.coe_sheet
    path = f"/google/sheets/v4/spreadsheets/{sheet}:batchUpdate"
    sandbox.script(path, 429, method="POST", headers={"Retry-After": "2"})
    gw.append_row(sheet, TAB, ["inc-after-429", "t"])
    assert _served(sandbox, "POST", path) == [429, 200] and fake_sleep.calls == [2.0]
    assert gw.find_row(sheet, TAB, "inc-after-429")[0] is not None


# No second retry loop: a lasting fault is tried exactly as often as the RetryPolicy allows.


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_lasting_github_fault_is_tried_exactly_as_the_policy_allows(
    sandbox: Sandbox, repo: str, fake_sleep: FakeSleep, attempts: int
) -> None:
    sandbox.script(f"/github/repos/{repo}", 502, method="GET", times=50)
    with _github(sandbox, fake_sleep, attempts) as gh, pytest.raises(UnavailableError) as failed:
        gh.check(repo)
    sandbox.app.script.clear()
    assert _served(sandbox, "GET", f"/github/repos/{repo}") == [502] * attempts
    assert len(fake_sleep.calls) == attempts - 1
    assert f"repository {repo}: HTTP 502" in str(failed.value)


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_lasting_sheets_fault_is_tried_exactly_as_the_policy_allows(
    sandbox: Sandbox, fake_sleep: FakeSleep, attempts: int
) -> None:
    sandbox.script(_values(sandbox), 503, method="GET", times=50)
    with _google(sandbox, fake_sleep, attempts) as gw, pytest.raises(UnavailableError):
        gw.find_row(sandbox.state.coe_sheet, TAB, "inc-none")
    sandbox.app.script.clear()
    assert _served(sandbox, "GET", _values(sandbox)) == [503] * attempts
    assert len(fake_sleep.calls) == attempts - 1


def test_writes_whose_answer_was_lost_are_sent_once_on_both_sdk_paths(
    gh: GitHubClient, gw: GoogleWorkspace, sandbox: Sandbox, repo: str
) -> None:
    """A 5xx after a POST may follow a write that happened: neither PyGithub's retry (it repeated
    POSTs ten times) nor gspread's is there to send it again, and the stage does not."""
    sandbox.script(f"/github/repos/{repo}/issues", 502, method="POST", times=5)
    with pytest.raises(UncertainError, match="may have happened"):
        gh.create_issue(repo, "t", "b", [])
    assert _served(sandbox, "POST", f"/github/repos/{repo}/issues") == [502]
    sheet = sandbox.state.coe_sheet
    path = f"/google/sheets/v4/spreadsheets/{sheet}:batchUpdate"
    sandbox.script(path, 503, method="POST", times=5)
    with pytest.raises(UncertainError, match="a rerun finds the row first"):
        gw.append_row(sheet, TAB, ["inc-lost", "t"])
    sandbox.app.script.clear()
    assert _served(sandbox, "POST", path) == [503]


# One classification: the same status is the same error whichever client got it.


@pytest.mark.parametrize(
    ("status", "error"),
    [(404, NotFoundError), (400, RejectedError), (429, RateLimitedError), (503, UnavailableError)],
)
def test_github_and_sheets_answers_map_to_one_error_tree(
    sandbox: Sandbox, repo: str, status: int, error: type[OutsideError]
) -> None:
    sandbox.script(f"/github/repos/{repo}", status, method="GET", times=50, headers={"Retry-After": "0"})
    sandbox.script(_values(sandbox), status, method="GET", times=50, headers={"Retry-After": "0"})
    sleep = FakeSleep()
    with _github(sandbox, sleep, 2) as gh, pytest.raises(OutsideError) as from_github:
        gh.check(repo)
    with _google(sandbox, sleep, 2) as gw, pytest.raises(OutsideError) as from_sheets:
        gw.find_row(sandbox.state.coe_sheet, TAB, "inc-none")
    sandbox.app.script.clear()
    assert type(from_github.value) is error and type(from_sheets.value) is error
    assert from_github.value.status == from_sheets.value.status == status


# One scrubber: a secret a vendor echoes in its error body never leaves, on any path.


def _echoing(secret: str) -> bytes:
    return f'{{"message": "bad request from {secret}", "error": {{"code": 400, "message": "saw {secret}"}}}}'.encode()


@pytest.mark.parametrize(
    "path",
    ["github read", "github write", "sheets read", "sheets write", "drive read"],
)
def test_a_secret_echoed_in_a_vendor_error_is_scrubbed_on_every_path(
    sandbox: Sandbox, repo: str, fake_sleep: FakeSleep, path: str
) -> None:
    token = "sandbox-github-token-edge-echo"  # holds the canary, so the suite's leak scan covers it
    sandbox.state.github.add_account(token, "oncall-edge", "admin")
    sheet = sandbox.state.coe_sheet
    with (
        GitHubClient(token, base_url=sandbox.github_url, write_interval=0, sleep=fake_sleep) as gh,
        _google(sandbox, fake_sleep) as gw,
    ):
        gw.get_file(sandbox.state.coe_template)  # a token exchange: the bearer token now exists
        bearer = str(gw.credentials.token)
        calls: dict[str, tuple[str, str, int, str, Callable[[], Any]]] = {
            "github read": (f"/github/repos/{repo}", "GET", 404, token, lambda: gh.check(repo)),
            "github write": (
                f"/github/repos/{repo}/issues",
                "POST",
                400,
                token,
                lambda: gh.create_issue(repo, "t", "b", []),
            ),
            "sheets read": (_values(sandbox), "GET", 400, bearer, lambda: gw.find_row(sheet, TAB, "x")),
            "sheets write": (
                f"/google/sheets/v4/spreadsheets/{sheet}:batchUpdate",
                "POST",
                503,
                bearer,
                lambda: gw.append_row(sheet, TAB, ["x"]),
            ),
            "drive read": (
                f"/google/drive/v3/files/{sandbox.state.coe_template}",
                "GET",
                400,
                bearer,
                lambda: gw.get_file(sandbox.state.coe_template),
            ),
        }
        where, method, status, secret, call = calls[path]
        sandbox.script(where, status, method=method, body=_echoing(secret))
        with pytest.raises(OutsideError) as caught:
            call()
    assert caught.value.status == status
    assert secret not in str(caught.value) and "[redacted]" in str(caught.value)


def test_pygithub_itself_sends_through_the_stage_and_keeps_its_own_exceptions(
    gh: GitHubClient, sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    """Outside a client call (PyGithub driven directly), the stage still retries, and a failed
    answer is handed back for PyGithub to raise its own exception, as without the adapter."""
    sandbox.script(f"/github/repos/{repo}", 503, method="GET")
    assert gh.gh.get_repo(repo).default_branch == "main"
    assert _served(sandbox, "GET", f"/github/repos/{repo}") == [503, 200] and len(fake_sleep.calls) == 1
    with pytest.raises(UnknownObjectException) as missing:
        gh.gh.get_repo(repo).get_label("nope").color  # noqa: B018 - lazy: reading it fetches it
    assert missing.value.status == 404 and not isinstance(missing.value, OutsideError)


def test_a_spent_github_hour_holds_the_client_until_its_reset(sandbox: Sandbox, repo: str) -> None:
    """A primary limit (403, X-RateLimit-Remaining: 0) is a rate limit to the stage: it waits
    until X-RateLimit-Reset, and the client's next request waits out what is left of it."""
    sleep = FakeSleep()
    sandbox.state.github.spend_quota(sandbox.state.github.login, reset_in=30)

    def refill(seconds: float) -> None:
        sleep(seconds)
        sandbox.state.github.forget_writes()  # the hour has passed for the fake

    with GitHubClient(
        sandbox.state.github.token, base_url=sandbox.github_url, write_interval=0, sleep=refill
    ) as gh:
        assert gh.default_branch(repo) == "main"
        assert _served(sandbox, "GET", f"/github/repos/{repo}") == [403, 200]
        assert len(sleep.calls) == 1 and 20 <= sleep.calls[0] <= 32  # until the reset, not a blind minute
        gh.check(repo)
    assert len(sleep.calls) == 2 and 0 < sleep.calls[1] <= sleep.calls[0]


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": 12345678901234567890123, "n": -98765432109876543210, "small": 7}',  # past 64 bits
        b'{"big": [18446744073709551616, 9223372036854775808]}',
        b'{"f": 1.5e300, "g": -0.0, "e": 1E-7}',
        b'{"x": NaN, "y": Infinity}',  # json reads these; orjson refuses them
        b'\xef\xbb\xbf{"bom": true}',
        b'{"uni": "\\u00e9\\ud83d\\ude00", "esc": "a\\"b\\\\c"}',
        b"[]",
        b'"just a string"',
    ],
)
def test_decoding_answers_as_the_standard_json_module_does(content: bytes) -> None:
    """The fast decoder falls back to json wherever orjson would read differently: an integer
    past 64 bits stays exact, not a float."""
    try:
        expected = json.loads(content)
    except ValueError:
        with pytest.raises(ValueError):
            decode_json(content)
        return
    got = decode_json(content)
    assert repr(got) == repr(expected)
