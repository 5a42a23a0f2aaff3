"""The GitHub client (PyGithub) against the sandbox fake; the fake's shapes against githubkit's schemas."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from itertools import count, pairwise
from typing import Any

import httpx
import pytest
from github.GithubException import GithubException, UnknownObjectException
from githubkit_schemas.v2022_11_28.models import (
    BranchWithProtection,
    ContentDirectoryItems,
    ContentFile,
    FileCommit,
    FullRepository,
    GitRef,
    GitTree,
    Issue,
    IssueComment,
    PullRequest,
    PullRequestSimple,
)

from oncall.clients.github import GitHubClient
from oncall.clients.runbook_files import web_base
from oncall.errors import (
    AuthError,
    InputError,
    MalformedError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from oncall.retry import RetryPolicy
from oncall.sandbox.faults import FaultRates
from oncall.sandbox.seed import RUNBOOK
from oncall.sandbox.server import Sandbox
from oncall.settings import Settings
from oncall.wiring import Clients
from tests.conftest import FakeSleep

_repos = count(1)


@pytest.fixture
def repo(sandbox: Sandbox) -> str:
    name = f"acme/repo-{next(_repos)}"
    sandbox.state.github.repo(name)
    return name


def test_reads_the_runbook_from_contents(gh: GitHubClient, sandbox: Sandbox) -> None:
    text = gh.read_file(sandbox.state.runbook_repo, sandbox.state.runbook_path, "main")
    assert text == RUNBOOK.read_text()
    with pytest.raises(NotFoundError, match=r"file nope.md in example-org/ops-runbook@main was not found"):
        gh.read_file(sandbox.state.runbook_repo, "nope.md", "main")


def test_bad_token_names_the_setting_never_the_token(sandbox: Sandbox, repo: str) -> None:
    with (
        GitHubClient("canary-gh-token-123", base_url=sandbox.github_url) as bad,
        pytest.raises(AuthError) as err,
    ):
        bad.list_issues(repo, "runbook-gap")
    assert "ONCALL_GITHUB_TOKEN" in str(err.value) and "canary-gh-token-123" not in str(err.value)


def test_create_comment_edit_and_list_round_trip(gh: GitHubClient, sandbox: Sandbox, repo: str) -> None:
    issue = gh.create_issue(repo, "Runbook gap: X", "body <!-- m -->", ["runbook-gap"])
    # The fake's pages are its own, as a GitHub Enterprise host's are (web_base of its API URL):
    # never github.com, where a sandbox name may be someone's real account.
    assert issue.html_url == f"{web_base(sandbox.github_url)}/{repo}/issues/{issue.number}"
    gh.comment(repo, issue.number, "more")
    closed = gh.edit(repo, issue.number, state="closed", state_reason="not_planned")
    assert (closed.state, closed.state_reason) == ("closed", "not_planned")
    listed = gh.list_issues(repo, "runbook-gap")
    assert [(i.number, i.state) for i in listed] == [(issue.number, "closed")]
    assert gh.comments(repo, issue.number) == ["more"]
    assert gh.list_issues(repo, "other-label") == []


def test_listing_reads_one_request_per_hundred_oldest_first(
    gh: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    for i in range(250):
        sandbox.state.github.new_issue(repo, f"t{i}", "b", ["runbook-gap"] if i % 5 else ["other"])
    before = sandbox.app.count("github", "GET")
    listed = gh.list_issues(repo, "runbook-gap")
    numbers = [i.number for i in listed]
    assert len(set(numbers)) == 200 and numbers == sorted(numbers)
    assert sandbox.app.count("github", "GET") - before == 2


def test_a_listing_page_that_fails_is_read_again_on_its_own(
    gh: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    for i in range(250):
        sandbox.state.github.new_issue(repo, f"t{i}", "b", ["runbook-gap"])
    # A body cut short reaches requests, not urllib3's retry: only the page's own retry reads it again.
    sandbox.script(
        f"/github/repos/{repo}/issues",
        200,
        method="GET",
        query="page=2",
        headers={"content-length": "4096"},
        body=b'[{"num',
    )
    before = sandbox.app.count("github", "GET")
    assert len(gh.list_issues(repo, "runbook-gap")) == 250
    assert sandbox.app.count("github", "GET") - before == 3 + 1


def test_a_5xx_after_create_is_not_retried_into_a_duplicate(
    gh: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    sandbox.script(f"/github/repos/{repo}/issues", 502, method="POST", after=True)
    with pytest.raises(UnavailableError, match="may have happened"):
        gh.create_issue(repo, "Runbook gap: Y", "body", ["runbook-gap"])
    assert len(sandbox.state.github.repos[repo].issues) == 1  # GitHub did create it
    assert sandbox.app.count("github", "POST", f"/github/repos/{repo}/issues") == 1


def test_secondary_rate_limit_waits_and_writes_once(
    gh: GitHubClient, sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    sandbox.state.github.writes_per_minute = 0
    sandbox.script(f"/github/repos/{repo}/issues", 200, method="POST", times=0)
    try:
        with pytest.raises(Exception, match="rate limit"):
            gh.create_issue(repo, "t", "b", [])
    finally:
        sandbox.state.github.writes_per_minute = 80
    assert fake_sleep.calls == [60.0, 60.0]  # waited twice within the 120 s budget, then gave up
    assert sandbox.state.github.repos[repo].issues == []
    fake_sleep.calls.clear()
    sandbox.script(f"/github/repos/{repo}/issues", 403, method="POST", headers={"Retry-After": "60"})
    gh.create_issue(repo, "t", "b", [])
    assert len(sandbox.state.github.repos[repo].issues) == 1


def test_body_over_githubs_limit_is_rejected_clearly(gh: GitHubClient, repo: str) -> None:
    with pytest.raises(RejectedError, match="422"):
        gh.create_issue(repo, "t", "x" * 65_537, [])


def test_fake_shapes_match_githubs_schema(gh: GitHubClient, sandbox: Sandbox, repo: str) -> None:
    issue = gh.create_issue(repo, "t", "b", ["runbook-gap"])
    gh.comment(repo, issue.number, "c")
    headers = {"Authorization": f"token {sandbox.state.github.token}"}
    base = f"{sandbox.github_url}/repos/{repo}/issues/{issue.number}"
    Issue.model_validate(httpx.get(base, headers=headers).json())
    for comment in httpx.get(f"{base}/comments", headers=headers).json():
        IssueComment.model_validate(comment)
    content = httpx.get(
        f"{sandbox.github_url}/repos/{sandbox.state.runbook_repo}/contents/{sandbox.state.runbook_path}",
        params={"ref": "main"},
        headers=headers,
    ).json()
    ContentFile.model_validate(content)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 from a proxy</html>",
        b'[{"number": "\xff\xfe"}]',
        b'{"message": "not a list"}',
        b'[{"number": 1, "title": ["not", "text"], "state": 7}]',
        b"[17]",
    ],
)
def test_a_broken_issue_listing_is_a_clear_error(
    gh: GitHubClient, sandbox: Sandbox, repo: str, body: bytes
) -> None:
    sandbox.state.github.new_issue(repo, "t", "b", ["runbook-gap"])
    sandbox.script(f"/github/repos/{repo}/issues", 200, method="GET", query="per_page=100", body=body)
    with pytest.raises(MalformedError, match=rf"issues labelled 'runbook-gap' in {repo}"):
        gh.list_issues(repo, "runbook-gap")


# What GitHub does beyond the happy path: labels dropped without push access, the title limit,
# the primary rate limit, and writes spaced across every client of one account.


@pytest.fixture
def reader(sandbox: Sandbox, fake_sleep: FakeSleep) -> Iterator[GitHubClient]:
    """A token whose account may open issues but has no push access (GitHub's Read role).
    Its name holds the canary 'sandbox-github-token', so the suite's leak scan covers it."""
    token = "sandbox-github-token-read-only"
    sandbox.state.github.add_account(token, "oncall-reader", "read")
    with GitHubClient(token, base_url=sandbox.github_url, write_interval=0, sleep=fake_sleep) as client:
        yield client


def test_labels_are_dropped_for_an_account_without_push_access(
    gh: GitHubClient, reader: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    made = reader.create_issue(repo, "Runbook gap: X", "body", ["runbook-gap"])
    assert made.labels == ()  # GitHub kept the issue and dropped the label, with a 201
    assert sandbox.state.github.repos[repo].issues[0]["labels"] == []
    assert gh.list_issues(repo, "runbook-gap") == []  # so a listing by label cannot find it
    assert [i.number for i in gh.list_issues(repo, creator="oncall-reader")] == [made.number]
    assert reader.login() == "oncall-reader"
    with pytest.raises(AuthError, match="Triage"):
        reader.add_labels(repo, made.number, ["runbook-gap"])
    assert gh.create_issue(repo, "Runbook gap: Y", "body", ["runbook-gap"]).labels == ("runbook-gap",)


def test_triage_access_adds_the_labels_that_create_dropped(sandbox: Sandbox, repo: str) -> None:
    sandbox.state.github.add_account("sandbox-github-token-triage", "oncall-triager", "triage")
    with GitHubClient(
        "sandbox-github-token-triage", base_url=sandbox.github_url, write_interval=0
    ) as triager:
        made = triager.create_issue(repo, "Runbook gap: X", "body", ["runbook-gap"])
        assert made.labels == ()
        assert triager.add_labels(repo, made.number, ["runbook-gap"]) == ("runbook-gap",)
        assert [i.labels for i in triager.list_issues(repo, "runbook-gap")] == [("runbook-gap",)]


def test_repository_labels_through_pygithub(gh: GitHubClient, reader: GitHubClient, repo: str) -> None:
    r = gh.gh.get_repo(repo)
    made = r.create_label("runbook-gap", "d73a4a", "alert kinds without a runbook entry")
    assert (made.name, made.color) == ("runbook-gap", "d73a4a")
    assert r.get_label("runbook-gap").description == "alert kinds without a runbook entry"
    assert [lb.name for lb in r.get_labels()] == ["runbook-gap"]
    with pytest.raises(GithubException) as exists:
        r.create_label("runbook-gap", "ededed")
    assert exists.value.status == 422 and exists.value.data["errors"][0]["code"] == "already_exists"
    with pytest.raises(UnknownObjectException):
        assert r.get_label("nope").color  # lazy: reading it fetches it
    with pytest.raises(GithubException) as denied:
        reader.gh.get_repo(repo).create_label("other", "ededed")
    assert denied.value.status == 403


def test_a_title_over_githubs_limit_is_refused_naming_the_field(gh: GitHubClient, repo: str) -> None:
    gh.create_issue(repo, "t" * 256, "b", [])
    with pytest.raises(RejectedError, match=r"title is too long \(maximum is 256 characters\)"):
        gh.create_issue(repo, "t" * 257, "b", [])
    with pytest.raises(GithubException) as refused:
        gh.gh.get_repo(repo).create_issue(title="t" * 257)
    assert refused.value.data["errors"] == [
        {
            "resource": "Issue",
            "code": "custom",
            "field": "title",
            "message": "title is too long (maximum is 256 characters)",
        }
    ]


@pytest.mark.parametrize(("per_page", "served"), [("0", 30), ("500", 100), ("abc", 30), ("-1", 30), ("7", 7)])
def test_a_per_page_github_cannot_use_is_served_not_refused(
    sandbox: Sandbox, repo: str, per_page: str, served: int
) -> None:
    for i in range(120):
        sandbox.state.github.new_issue(repo, f"t{i}", "b", [])
    answer = httpx.get(
        f"{sandbox.github_url}/repos/{repo}/issues",
        params={"per_page": per_page, "page": "x"},
        headers={"Authorization": f"token {sandbox.state.github.token}"},
    )
    assert answer.status_code == 200 and len(answer.json()) == served


class RefillingSleep(FakeSleep):
    """Waits out the fake's primary-rate-limit hour: after the sleep the quota is back."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.sandbox.state.github.forget_writes()


@pytest.mark.parametrize("write", [False, True])
def test_a_primary_rate_limit_waits_until_its_reset(sandbox: Sandbox, repo: str, write: bool) -> None:
    sleep = RefillingSleep(sandbox)
    with GitHubClient(
        sandbox.state.github.token, base_url=sandbox.github_url, write_interval=0, sleep=sleep
    ) as gh:
        sandbox.state.github.spend_quota(sandbox.state.github.login, reset_in=30)
        if write:
            gh.create_issue(repo, "t", "b", [])
        else:
            gh.list_issues(repo, "runbook-gap")
    assert len(sleep.calls) == 1 and 29 <= sleep.calls[0] <= 32  # until X-RateLimit-Reset, not a blind minute
    assert len(sandbox.state.github.repos[repo].issues) == int(write)


def test_a_primary_rate_limit_past_the_wait_budget_says_when_it_resets(
    gh: GitHubClient, sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    sandbox.state.github.spend_quota(sandbox.state.github.login, reset_in=1800)
    with pytest.raises(RateLimitedError, match=r"rate limit.*resets at") as limited:
        gh.list_issues(repo, "runbook-gap")
    assert not isinstance(limited.value, AuthError) and fake_sleep.calls == []


def test_writes_are_spaced_across_every_client_of_one_account(sandbox: Sandbox, repo: str) -> None:
    """Each task builds its own client: the interval holds between them, as GitHub counts per account."""
    interval = 0.2
    for n in range(3):
        with GitHubClient(
            sandbox.state.github.token, base_url=sandbox.github_url, write_interval=interval
        ) as gh:
            gh.create_issue(repo, f"t{n}", "b", [])
    times = sandbox.state.github.writes_at
    assert len(times) == 3, times
    assert min(b - a for a, b in pairwise(times)) >= interval * 0.95


def test_an_error_echoing_the_token_names_no_secret(
    sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    """The client registers its own token for the scrub, however it was built."""
    token = "sandbox-github-token-echoed"  # holds the canary, so the suite's leak scan covers it
    sandbox.state.github.add_account(token, "oncall-echo", "admin")
    echo = f'{{"message": "bad header: token {token}", "errors": [{{"field": "{token}", "code": "x"}}]}}'
    sandbox.script(f"/github/repos/{repo}/issues", 400, method="POST", body=echo.encode())
    with (
        GitHubClient(token, base_url=sandbox.github_url, write_interval=0, sleep=fake_sleep) as client,
        pytest.raises(RejectedError) as refused,
    ):
        client.create_issue(repo, "t", "b", [])
    assert token not in str(refused.value) and str(refused.value).count("[redacted]") == 2


# The git side: trees, branches, contents PUT and draft pull requests, as PyGithub calls them.

FOLDER = {
    "docs/runbooks/README.md": "# Runbooks\n",
    "docs/runbooks/api/HighErrorRate.md": "# HighErrorRate\n\n## Mitigation\n\nRoll back.\n",
    "docs/runbooks/db/DiskFull.md": "# DiskFull\n\n## Mitigation\n\nGrow the volume.\n",
    "src/app.py": "print('hi')\n",
}


@pytest.fixture
def git_repo(sandbox: Sandbox, repo: str) -> str:
    files = sandbox.state.github.repos[repo].files
    for path, text in FOLDER.items():
        files[f"{path}@main"] = text
    return repo


def test_the_tree_lists_every_blob_of_a_ref_in_one_request(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    before = sandbox.app.count("github", "GET")
    assert sorted(gh.tree(git_repo, "main")) == sorted(FOLDER)
    assert sandbox.app.count("github", "GET") - before == 1
    raw = gh.gh.get_repo(git_repo).get_git_tree("main", recursive=True)
    folders = {e.path for e in raw.tree if e.type == "tree"}
    assert folders == {"docs", "docs/runbooks", "docs/runbooks/api", "docs/runbooks/db", "src"}
    assert {e.mode for e in raw.tree} == {"100644", "040000"}
    top = gh.gh.get_repo(git_repo).get_git_tree("main")
    assert sorted(e.path for e in top.tree) == ["docs", "src"]
    with pytest.raises(NotFoundError):
        gh.tree(git_repo, "no-such-branch")


def test_a_tree_over_githubs_limit_is_cut_and_refused(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    sandbox.state.github.tree_limit = 3
    try:
        raw = gh.gh.get_repo(git_repo).get_git_tree("main", recursive=True)
        assert raw.raw_data["truncated"] is True and len(raw.tree) == 3
        with pytest.raises(InputError, match="100,000 entries"):
            gh.tree(git_repo, "main")
    finally:
        sandbox.state.github.tree_limit = 100_000


def test_a_folder_reads_as_its_entries_and_a_file_with_its_blob_sha(gh: GitHubClient, git_repo: str) -> None:
    listing = gh.gh.get_repo(git_repo).get_contents("docs/runbooks", ref="main")
    assert isinstance(listing, list)
    assert [(c.type, c.path) for c in listing] == [
        ("file", "docs/runbooks/README.md"),
        ("dir", "docs/runbooks/api"),
        ("dir", "docs/runbooks/db"),
    ]
    text, sha = gh.file(git_repo, "docs/runbooks/db/DiskFull.md", "main") or ("", "")
    raw = FOLDER["docs/runbooks/db/DiskFull.md"].encode()
    assert (
        text == raw.decode()
        and sha == hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()
    )
    assert gh.file(git_repo, "docs/runbooks/nope.md", "main") is None
    with pytest.raises(InputError, match="is a folder"):
        gh.file(git_repo, "docs/runbooks", "main")
    with pytest.raises(GithubException) as no_ref:
        gh.gh.get_repo(git_repo).get_contents("docs/runbooks/README.md", ref="gone")
    assert no_ref.value.status == 404 and no_ref.value.data["message"] == "No commit found for the ref gone"


def test_a_branch_is_made_once_and_found_by_name(gh: GitHubClient, sandbox: Sandbox, git_repo: str) -> None:
    assert gh.default_branch(git_repo) == "main"
    main = gh.branch_sha(git_repo, "main")
    assert main is not None and gh.branch_sha(git_repo, "runbook/x") is None
    gh.create_branch(git_repo, "runbook/x", main)
    assert gh.branch_sha(git_repo, "runbook/x") == main
    assert gh.gh.get_repo(git_repo).get_branch("runbook/x").commit.sha == main
    with pytest.raises(GithubException) as exists:
        gh.gh.get_repo(git_repo).create_git_ref("refs/heads/runbook/x", main)
    assert (exists.value.status, exists.value.data["message"]) == (422, "Reference already exists")
    gh.create_branch(git_repo, "runbook/x", main)  # a rerun: the 422 counts as made
    with pytest.raises(GithubException) as unknown:
        gh.gh.get_repo(git_repo).create_git_ref("refs/heads/y", "0" * 40)
    assert (unknown.value.status, unknown.value.data["message"]) == (422, "Object does not exist")
    with pytest.raises(GithubException) as missing:
        gh.gh.get_repo(git_repo).get_branch("nope")
    assert (missing.value.status, missing.value.data["message"]) == (404, "Branch not found")


def test_a_file_is_created_without_a_sha_and_updated_only_with_the_current_one(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    gh.create_branch(git_repo, "runbook/y", main)
    path = "docs/runbooks/api/LatencyHigh.md"
    gh.put_file(git_repo, path, "runbook/y", "Add LatencyHigh", "# LatencyHigh\n", None)
    files = sandbox.state.github.repos[git_repo].files
    assert files[f"{path}@runbook/y"] == "# LatencyHigh\n" and f"{path}@main" not in files
    assert gh.branch_sha(git_repo, "runbook/y") != main  # the commit moved the branch
    r = gh.gh.get_repo(git_repo)
    with pytest.raises(GithubException) as no_sha:
        r.create_file(path, "again", "x", branch="runbook/y")
    assert no_sha.value.status == 422 and '"sha" wasn\'t supplied' in no_sha.value.data["message"]
    with pytest.raises(GithubException) as stale:
        r.update_file(path, "again", "x", "f" * 40, branch="runbook/y")
    assert (stale.value.status, stale.value.data["message"]) == (409, f"{path} does not match {'f' * 40}")
    with pytest.raises(RejectedError, match="409"):
        gh.put_file(git_repo, path, "runbook/y", "again", "x", "f" * 40)
    _, sha = gh.file(git_repo, path, "runbook/y") or ("", "")
    gh.put_file(git_repo, path, "runbook/y", "Fill LatencyHigh", "# LatencyHigh\n\nMore.\n", sha)
    assert files[f"{path}@runbook/y"] == "# LatencyHigh\n\nMore.\n"
    with pytest.raises(GithubException) as no_branch:
        r.create_file("x.md", "m", "x", branch="gone")
    assert no_branch.value.status == 404


def test_a_draft_pull_request_is_opened_once_and_found_by_its_head(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    gh.create_branch(git_repo, "runbook/z", main)
    r = gh.gh.get_repo(git_repo)
    with pytest.raises(GithubException) as nothing:
        r.create_pull(base="main", head="runbook/z", title="t", body="b")
    assert nothing.value.data["errors"][0]["message"] == "No commits between main and runbook/z"
    gh.put_file(git_repo, "docs/runbooks/db/Z.md", "runbook/z", "Add Z", "# Z\n", None)
    assert gh.find_pull(git_repo, "runbook/z") is None
    made = gh.create_pull(git_repo, "Runbook: add Z", "Closes #1", "runbook/z", "main")
    assert (made.state, made.head, made.draft) == ("open", "runbook/z", True)
    assert made.html_url.endswith(f"/pull/{made.number}")
    assert gh.find_pull(git_repo, "runbook/z") == made
    owner = git_repo.split("/")[0]
    with pytest.raises(GithubException) as exists:
        r.create_pull(base="main", head=f"{owner}:runbook/z", title="t", body="b")
    assert exists.value.status == 422
    assert exists.value.data["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": f"A pull request already exists for {owner}:runbook/z.",
        }
    ]
    assert gh.create_pull(git_repo, "again", "b", "runbook/z", "main") == made  # reused, not a second
    with pytest.raises(GithubException) as no_head:
        r.create_pull(base="main", head="gone", title="t", body="b")
    assert no_head.value.data["errors"] == [{"resource": "PullRequest", "code": "invalid", "field": "head"}]
    # A pull request is an issue to GitHub: it shares the numbers, and the issue listing marks it.
    issue = gh.create_issue(git_repo, "t", "b", [])
    assert issue.number == made.number + 1
    assert gh.list_issues(git_repo, creator=sandbox.state.github.login) == [issue]


def test_writing_refs_and_contents_needs_push_access_and_a_pull_request_does_not(
    gh: GitHubClient, reader: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    main = reader.branch_sha(git_repo, "main")
    assert main is not None and reader.tree(git_repo, "main")  # reading needs only read access
    with pytest.raises(NotFoundError, match="Write access"):
        reader.create_branch(git_repo, "runbook/r", main)
    assert gh.branch_sha(git_repo, "runbook/r") is None
    gh.create_branch(git_repo, "runbook/r", main)
    with pytest.raises(NotFoundError, match="Write access"):
        reader.put_file(git_repo, "docs/runbooks/R.md", "runbook/r", "Add R", "# R\n", None)
    assert "docs/runbooks/R.md@runbook/r" not in sandbox.state.github.repos[git_repo].files
    gh.put_file(git_repo, "docs/runbooks/R.md", "runbook/r", "Add R", "# R\n", None)
    made = reader.create_pull(git_repo, "Runbook: add R", "b", "runbook/r", "main")
    assert made.head == "runbook/r"  # GitHub: read access is enough to open a pull request


# A write whose answer is lost is looked for before it is sent again: never a second branch,
# commit or pull request.


def test_a_lost_branch_answer_is_found_not_made_twice(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    sandbox.script(f"/github/repos/{git_repo}/git/refs", 502, method="POST", after=True)
    gh.create_branch(git_repo, "runbook/lost", main)
    assert gh.branch_sha(git_repo, "runbook/lost") == main
    assert sandbox.app.count("github", "POST", f"/github/repos/{git_repo}/git/refs") == 1


def test_a_branch_whose_write_never_arrived_is_sent_once_more(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    sandbox.script(f"/github/repos/{git_repo}/git/refs", 503, method="POST")  # refused before acting
    gh.create_branch(git_repo, "runbook/again", main)
    assert gh.branch_sha(git_repo, "runbook/again") == main
    assert sandbox.app.count("github", "POST", f"/github/repos/{git_repo}/git/refs") == 2


@pytest.mark.parametrize("update", [False, True])
def test_a_lost_commit_answer_never_makes_a_second_commit(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str, update: bool
) -> None:
    path = "docs/runbooks/api/HighErrorRate.md" if update else "docs/runbooks/api/New.md"
    sha = (gh.file(git_repo, path, "main") or ("", None))[1]
    sandbox.script(f"/github/repos/{git_repo}/contents/{path}", 502, method="PUT", after=True)
    before = gh.branch_sha(git_repo, "main")
    gh.put_file(git_repo, path, "main", "Write", "# New text\n", sha)
    assert sandbox.state.github.repos[git_repo].files[f"{path}@main"] == "# New text\n"
    assert sandbox.app.count("github", "PUT", f"/github/repos/{git_repo}/contents/{path}") == 1
    assert gh.branch_sha(git_repo, "main") != before


def test_a_commit_whose_write_never_arrived_is_sent_again_from_the_sha_read(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    path = "docs/runbooks/api/HighErrorRate.md"
    sha = (gh.file(git_repo, path, "main") or ("", None))[1]
    sandbox.script(f"/github/repos/{git_repo}/contents/{path}", 500, method="PUT")
    gh.put_file(git_repo, path, "main", "Write", "# Rewritten\n", sha)
    assert sandbox.state.github.repos[git_repo].files[f"{path}@main"] == "# Rewritten\n"
    assert sandbox.app.count("github", "PUT", f"/github/repos/{git_repo}/contents/{path}") == 2


@pytest.mark.parametrize(
    "fault", [{"status": 502, "after": True}, {"status": 200, "after": True, "body": b"<html>"}]
)
def test_a_lost_pull_request_answer_never_opens_a_second(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str, fault: dict[str, Any]
) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    gh.create_branch(git_repo, "runbook/pr", main)
    gh.put_file(git_repo, "docs/runbooks/P.md", "runbook/pr", "Add P", "# P\n", None)
    sandbox.script(f"/github/repos/{git_repo}/pulls", method="POST", **fault)
    made = gh.create_pull(git_repo, "Runbook: add P", "b", "runbook/pr", "main")
    prs = [i for i in sandbox.state.github.repos[git_repo].issues if "_pr" in i]
    assert [p["number"] for p in prs] == [made.number]
    assert sandbox.app.count("github", "POST", f"/github/repos/{git_repo}/pulls") == 1


def test_the_git_shapes_match_githubs_schema(gh: GitHubClient, sandbox: Sandbox, git_repo: str) -> None:
    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    gh.create_branch(git_repo, "runbook/s", main)
    headers = {"Authorization": f"token {sandbox.state.github.token}"}
    api = f"{sandbox.github_url}/repos/{git_repo}"
    GitTree.model_validate(httpx.get(f"{api}/git/trees/main?recursive=1", headers=headers).json())
    GitRef.model_validate(httpx.get(f"{api}/git/ref/heads/runbook/s", headers=headers).json())
    BranchWithProtection.model_validate(httpx.get(f"{api}/branches/main", headers=headers).json())
    for item in httpx.get(f"{api}/contents/docs/runbooks?ref=main", headers=headers).json():
        ContentDirectoryItems.model_validate(item)
    put = httpx.put(
        f"{api}/contents/docs/S.md",
        headers=headers,
        json={"message": "m", "content": base64.b64encode(b"# S\n").decode(), "branch": "runbook/s"},
    )
    assert put.status_code == 201
    FileCommit.model_validate(put.json())
    pr = httpx.post(
        f"{api}/pulls",
        headers=headers,
        json={"title": "t", "head": "runbook/s", "base": "main", "draft": True},
    )
    assert pr.status_code == 201
    PullRequest.model_validate(pr.json())
    FullRepository.model_validate(httpx.get(api, headers=headers).json())
    for item in httpx.get(f"{api}/pulls", params={"state": "all"}, headers=headers).json():
        PullRequestSimple.model_validate(item)  # a listing's items are the simple pull request
        assert "merged" not in item
    one = httpx.get(f"{api}/pulls/{pr.json()['number']}", headers=headers)
    assert one.status_code == 200 and PullRequest.model_validate(one.json()).merged is False


def test_a_lost_commit_never_overwrites_a_change_made_meanwhile(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    path = "docs/runbooks/api/HighErrorRate.md"
    _, seen = gh.file(git_repo, path, "main") or ("", "")
    files = sandbox.state.github.repos[git_repo].files
    files[f"{path}@main"] = "# A person's edit\n"  # after our read, before our write
    sandbox.script(f"/github/repos/{git_repo}/contents/{path}", 503, method="PUT")
    with pytest.raises(UnavailableError):
        gh.put_file(git_repo, path, "main", "Write", "# Ours\n", seen)
    assert files[f"{path}@main"] == "# A person's edit\n"
    assert sandbox.app.count("github", "PUT", f"/github/repos/{git_repo}/contents/{path}") == 1


def test_a_file_over_a_megabyte_is_read_from_its_blob(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    big = "# Big\n\n" + "x" * (1024 * 1024)
    sandbox.state.github.repos[git_repo].files["docs/big.md@main"] = big
    raw = gh.gh.get_repo(git_repo).get_contents("docs/big.md", ref="main")
    assert not isinstance(raw, list) and (raw.encoding, raw.content) == ("none", "")
    before = sandbox.app.count("github", "GET")
    assert (gh.file(git_repo, "docs/big.md", "main") or ("", ""))[0] == big
    assert sandbox.app.count("github", "GET") - before == 2


def test_a_folder_listing_stops_at_githubs_thousand_entries(
    gh: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    files = sandbox.state.github.repos[repo].files
    for n in range(1005):
        files[f"many/Alert{n:04}.md@main"] = f"# Alert{n}\n"
    listing = gh.gh.get_repo(repo).get_contents("many", ref="main")
    assert isinstance(listing, list) and len(listing) == 1000
    assert len(gh.tree(repo, "main")) == 1005  # the tree has them all


@pytest.mark.parametrize("seed", [2, 4, 5, 6, 8, 10])
def test_random_lost_answers_still_give_one_branch_one_commit_one_pull_request(
    sandbox: Sandbox, git_repo: str, fake_sleep: FakeSleep, seed: int
) -> None:
    """Reruns of branch, commit and pull request under random faults (answers lost after the
    fake acted, 5xx before it did): the end is one of each, however often a run stopped."""
    text, path, branch = "# Chaos\n", "docs/runbooks/db/Chaos.md", "runbook/chaos"
    sandbox.app.reset(seed)  # the faults repeat: each seed loses some writes' answers
    sandbox.faults("github", rate_lost=0.25, rate_5xx=0.1)
    with GitHubClient(
        sandbox.state.github.token,
        base_url=sandbox.github_url,
        write_interval=0,
        retry=RetryPolicy(attempts=5, base_delay=0),
        sleep=fake_sleep,
    ) as gh:
        for _ in range(40):
            try:
                if gh.find_pull(git_repo, branch) is not None:
                    break
                main = gh.branch_sha(git_repo, "main")
                assert main is not None
                if gh.branch_sha(git_repo, branch) is None:
                    gh.create_branch(git_repo, branch, main)
                found = gh.file(git_repo, path, branch)
                if found is None or found[0] != text:
                    gh.put_file(git_repo, path, branch, "Add Chaos", text, found[1] if found else None)
                gh.create_pull(git_repo, "Runbook: add Chaos", "b", branch, "main")
            except UnavailableError:
                continue  # a run that stopped: the next one finishes it
    sandbox.app.rates.clear()
    lost_writes = [
        s
        for s in sandbox.app.served
        if s.method in ("POST", "PUT") and git_repo in s.path and s.status == 502
    ]
    assert lost_writes  # the seed lost at least one write's answer after the fake acted
    repo = sandbox.state.github.repos[git_repo]
    assert [i["_pr"]["head"] for i in repo.issues if "_pr" in i] == [branch]
    assert repo.files[f"{path}@{branch}"] == text and f"{path}@main" not in repo.files
    assert repo.branches == {branch}
    assert sandbox.app.count("github", "POST", f"/github/repos/{git_repo}/pulls") >= 1


def _settings(sandbox: Sandbox, **http: Any) -> Settings:
    return Settings(github_token=sandbox.state.github.token, github_base_url=sandbox.github_url, **http)


def test_the_wired_github_client_tries_as_often_as_the_settings_say(sandbox: Sandbox, repo: str) -> None:
    """`ONCALL_HTTP_ATTEMPTS` bounds GitHub's retries as it does every other API's: doctor against
    a GitHub that keeps failing took 87 s a check when the client kept its own default."""

    def tries(attempts: int) -> int:
        sandbox.app.served.clear()
        sandbox.script(f"/github/repos/{repo}", 502, times=50)
        settings = _settings(sandbox, http_attempts=attempts, http_backoff_seconds=0)
        with Clients(settings) as clients, pytest.raises(UnavailableError):
            clients.github().check(repo)
        sandbox.app.script.clear()
        return sum(1 for s in sandbox.app.served if s.path.endswith(f"/repos/{repo}"))

    few, many = tries(1), tries(4)
    assert few < many
    assert few <= 2


def test_the_wired_github_client_waits_no_longer_than_the_settings_timeout(
    sandbox: Sandbox, repo: str
) -> None:
    """`ONCALL_HTTP_TIMEOUT_SECONDS` reaches GitHub's requests: an answer slower than it is a
    timeout (the client's own default, 15 s, would have waited for it)."""
    sandbox.app.rates["github"] = FaultRates(rate_slow=1.0, slow_ms=2000)
    settings = _settings(sandbox, http_timeout_seconds=0.3, http_attempts=1)
    started = time.monotonic()
    with Clients(settings) as clients, pytest.raises(UnavailableError, match="Timeout"):
        clients.github().check(repo)
    assert time.monotonic() - started < 1.5


def test_a_pull_request_reads_back_merged_once_merged_by_number_and_in_the_listing(
    gh: GitHubClient, sandbox: Sandbox, git_repo: str
) -> None:
    from oncall.sandbox.github_git import merge_pull

    main = gh.branch_sha(git_repo, "main")
    assert main is not None
    gh.create_branch(git_repo, "coe/x", main)
    gh.put_file(git_repo, "postmortems/x.md", "coe/x", "Add the COE", "# COE\n", None)
    made = gh.create_pull(git_repo, "COE x", "body", head="coe/x", base="main")
    assert gh.pull(git_repo, made.number) == made and not made.merged and made.state == "open"
    assert gh.pull(git_repo, 999) is None
    # GitHub's listing items are the "simple" pull request: no `merged`, only `merged_at`
    raw = gh.gh.get_repo(git_repo)._requester.requestJsonAndCheck("GET", f"/repos/{git_repo}/pulls")[1]
    assert "merged" not in raw[0] and raw[0]["merged_at"] is None
    merge_pull(sandbox.state.github, git_repo, made.number)
    [listed] = gh.pulls(git_repo)
    got = gh.pull(git_repo, made.number)
    assert listed.merged and listed.state == "closed" and got is not None and got.merged
    assert gh.read_file(git_repo, "postmortems/x.md", "main") == "# COE\n"  # the head's file is on main
