"""GitHub through PyGithub: read the runbook, list gap issues, write issues, and open the
draft pull requests that add runbook entries (branch, commit, pull request).

PyGithub sends through the shared HTTP stage (`oncall.clients.http`): its session's transport
is the stage's `StageAdapter`, so PyGithub's own retries (which repeat 5xx answers to POSTs up
to ten times, filing duplicates) never run. The stage retries only GET/HEAD after a 5xx or a
lost answer; a write that fails without a clear answer raises `UncertainError`, and the caller
looks for its marker before writing again. Rate limits mean GitHub did nothing, so every
request is retried after the wait, and the wait holds the whole client: a primary limit (403,
`X-RateLimit-Remaining: 0`) until its `X-RateLimit-Reset`, a secondary one (403 or 429 saying
so) for its Retry-After or a minute.

A branch, a commit or a pull request whose answer was lost is looked for before it is written
again (the branch by name, the file by its text, the pull request by its head), so a lost answer
never makes a second one.

Writes are spaced by `write_interval` per account and API, across every client in the
process (the stage holds each write in the account's slot): a flow may build a client per
task, and GitHub counts content-creating requests per account, so a spacer per client would
not space anything.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from github import Auth, Github, GithubException
from github.GithubException import BadAttributeException
from pydantic import BaseModel, ConfigDict

from oncall.clients.http import ApiClient, StageAdapter
from oncall.clients.records import answer_shape
from oncall.errors import (
    AuthError,
    InputError,
    NotFoundError,
    RejectedError,
    UnavailableError,
    remember_secret,
)
from oncall.models import IssueRef
from oncall.retry import DEFAULT_CONCURRENCY, RetryPolicy

SYSTEM = "GitHub"
SETTING = "ONCALL_GITHUB_TOKEN (Secret block 'oncall-github-token')"
T = TypeVar("T")
PER_PAGE = 100


RETRY = RetryPolicy(attempts=5, base_delay=0.5, max_total_sleep=120.0)
"""GitHub's default: a secondary limit asks for a minute, and the budget holds two of them."""
SECONDARY_WAIT = 60.0  # GitHub: without Retry-After, wait at least a minute after a secondary limit


def _rate_limited(response: httpx.Response) -> bool:
    """GitHub's rate limits beside a 429: a 403 with `X-RateLimit-Remaining: 0` (the hour's quota
    is spent), with Retry-After, or saying it is a (secondary) rate limit, as PyGithub reads it."""
    if response.status_code != 403:
        return False
    if response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers:
        return True
    try:
        message = json.loads(response.content).get("message")
    except (ValueError, AttributeError):
        return False
    text = message.lower() if isinstance(message, str) else ""
    return text.startswith(
        ("api rate limit exceeded", "you have exceeded a secondary rate limit")
    ) or text.endswith(
        ("please retry your request again later.", "please wait a few minutes before you try again.")
    )


def _rate_wait(response: httpx.Response) -> float | None:
    """How long a GitHub rate limit without Retry-After asks to wait: a primary one until its
    `X-RateLimit-Reset` and a second past it, a secondary one a minute."""
    if not _rate_limited(response) and response.status_code != 429:
        return None
    reset = response.headers.get("x-ratelimit-reset", "")
    if response.headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - time.time()) + 1
    return SECONDARY_WAIT


class _WriteSpacer:
    """One write at a time per account, each starting `interval` after the last one ended
    (so they also arrive at least that far apart); shared by every client of the account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -float("inf")

    @contextmanager
    def slot(self, interval: float, sleep: Callable[[float], None]) -> Iterator[None]:
        if interval <= 0:
            yield
            return
        with self._lock:
            wait = self._last + interval - time.monotonic()
            if wait > 0:
                sleep(wait)
            try:
                yield
            finally:
                self._last = time.monotonic()


_SPACERS: dict[str, _WriteSpacer] = {}
_SPACERS_LOCK = threading.Lock()


def _spacer(base_url: str, token: str) -> _WriteSpacer:
    key = hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()
    with _SPACERS_LOCK:
        return _SPACERS.setdefault(key, _WriteSpacer())


def _labels(raw: Any) -> tuple[str, ...]:
    return tuple(lb["name"] if isinstance(lb, dict) else str(lb) for lb in raw or ())


class PullRef(BaseModel):
    """A pull request as plain data: found again by its head branch, open or closed."""

    model_config = ConfigDict(frozen=True)

    number: int
    html_url: str
    state: str
    head: str  # the head branch's name, without its owner
    draft: bool = False
    base: str = ""  # the branch it goes into
    merged: bool = False  # a closed one that was merged
    title: str = ""
    body: str = ""
    created_at: datetime | None = None


def _pull(pr: Any) -> PullRef:
    """`merged` from `merged_at`: a listing's pull requests carry `merged_at` but no `merged`
    (only a single pull request's answer has it), and PyGithub would fetch each to complete it."""
    return PullRef(
        number=pr.number,
        html_url=pr.html_url,
        state=pr.state,
        head=pr.head.ref,
        draft=bool(pr.draft),
        base=pr.base.ref,
        merged=pr.merged_at is not None,
        title=pr.title or "",
        body=pr.body or "",
        created_at=pr.created_at,
    )


def _ref(issue: Any) -> IssueRef:
    return IssueRef(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        state=issue.state,
        state_reason=issue.state_reason,
        html_url=issue.html_url,
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        closed_at=issue.closed_at,
        comments=issue.comments,
        is_pull_request="/pull/" in issue.html_url,  # reading .pull_request would fetch each issue again
        labels=tuple(label.name for label in issue.labels),
    )


def _raw_ref(raw: dict[str, Any]) -> IssueRef:
    return IssueRef.model_validate(
        {
            **raw,
            "body": raw.get("body") or "",
            "is_pull_request": "pull_request" in raw,
            "labels": _labels(raw.get("labels")),
        }
    )


def _last_page(headers: dict[str, Any]) -> int:
    """The `rel="last"` page of a Link header (PyGithub lowercases header names); a listing
    without one has a single page."""
    found = re.search(r'<([^>]*)>;\s*rel="last"', str(headers.get("link", "")))
    if found is None:
        return 1
    pages = parse_qs(urlsplit(found.group(1)).query).get("page", ["1"])
    return int(pages[0])


# PyGithub's private names for the connection classes a requester builds its sessions from: the
# API host's (chosen in `Requester.__init__`) and, for a URL on another GitHub host, one per scheme.
_PYGITHUB_CONNECTIONS = (
    "_Requester__connectionClass",
    "_Requester__httpConnectionClass",
    "_Requester__httpsConnectionClass",
)


def _send_through(gh: Github, adapter: StageAdapter) -> None:
    """Every connection PyGithub opens for `gh` sends through `adapter`.

    PyGithub (2.10) has no public seam for one client's transport: `Github(retry=, pool_size=)`
    only tune the urllib3 adapter it mounts itself, and the public `Requester.injectConnectionClasses`
    swaps the classes for every client in the process and turns off connection reuse. So this is
    the one place that touches PyGithub's private state: the requester's connection classes are
    wrapped, on this requester only, to mount the adapter on each session they make. A PyGithub
    that renamed them fails here, at once, rather than sending around the stage; and
    tests/clients/test_pygithub_seam.py fails if any request of the client reaches urllib3.
    A requester PyGithub derives afresh (`withLazy`, `withAuth`) is not wrapped: nothing here asks for one.
    """
    requester = gh.requester
    missing = [name for name in _PYGITHUB_CONNECTIONS if not callable(getattr(requester, name, None))]
    if missing:
        raise RuntimeError(
            f"PyGithub {metadata.version('PyGithub')} no longer keeps {', '.join(missing)} on its requester, "
            "so GitHub requests cannot be sent through the HTTP stage; update "
            "oncall.clients.github._send_through for this version, or pin PyGithub to one it knows"
        )

    def through(make: Callable[..., Any]) -> Callable[..., Any]:
        def connection(*args: Any, **kwargs: Any) -> Any:
            made = make(*args, **kwargs)
            made.session.mount("http://", adapter)
            made.session.mount("https://", adapter)
            return made

        return connection

    for name in _PYGITHUB_CONNECTIONS:
        setattr(requester, name, through(getattr(requester, name)))


def split_repo(full_name: str) -> str:
    parts = full_name.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"repository {full_name!r} should look like 'owner/name'")
    return full_name.strip()


class GitHubClient:
    """GitHub through PyGithub, every request through the shared stage (`ApiClient`).

    The http options are every client's (`timeout`, `concurrency`, `retry`, `transport`,
    `sleep`); `retry` defaults to `RETRY`, and its sleep budget is never under two of GitHub's
    one-minute secondary waits. `transport` is the test seam, as for every `ApiClient`.
    """

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.github.com",
        write_interval: float = 1.0,
        timeout: float = 15.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        remember_secret(token)  # PyGithub sends it: the stage scrubs it from GitHub's error text
        base_url = base_url.rstrip("/")
        policy = retry or RETRY
        spacer = _spacer(base_url, token)
        wait = sleep or time.sleep
        self._concurrency = concurrency
        self.api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            credential_setting=SETTING,
            transport=transport,
            timeout=timeout,
            retry=dataclasses.replace(
                policy, max_total_sleep=max(policy.max_total_sleep, 2 * SECONDARY_WAIT)
            ),
            sleep=wait,
            max_connections=concurrency,
            rate_limited=_rate_limited,
            retry_hint=_rate_wait,
            advice={
                403: "the account needs issues:write and contents:read on the repository",
                404: f"check the repository name and that {SETTING} can see it",
            },
            write_slot=lambda: spacer.slot(write_interval, wait),
            uncertain="the write may have happened, a rerun looks for it first",
        )
        self.gh = Github(
            base_url=base_url,
            auth=Auth.Token(token),
            timeout=int(max(1, timeout)),
            per_page=PER_PAGE,
            pool_size=concurrency,
            retry=None,  # the stage retries; PyGithub's urllib3 adapter is replaced below anyway
            seconds_between_requests=0,
            seconds_between_writes=0,  # spaced by the stage's write slot, per account rather than per client
            lazy=True,
        )
        _send_through(self.gh, self.api.adapter())

    def close(self) -> None:
        self.gh.close()
        self.api.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, what: str, *, write: bool = False) -> Iterator[None]:
        """One GitHub call: the stage names `what` in its errors; PyGithub parses lazily and
        trusts the shape, so a wrong one surfaces inside the call (a stray GithubException,
        which no HTTP status raises here any more, is one too)."""
        with (
            self.api.calling(what),
            answer_shape(SYSTEM, what, write=write, also=(BadAttributeException, GithubException)),
        ):
            yield

    def _write(self, what: str, call: Callable[[], T]) -> T:
        """A write: the stage retries it only after a rate limit, when GitHub has certainly not acted."""
        with self._errors(what, write=True):
            return call()

    def _read(self, what: str, call: Callable[[], T]) -> T:
        """A read: the stage retries it after a 5xx, a lost connection or a body cut mid-way."""
        with self._errors(what):
            return call()

    def read_file(self, repo: str, path: str, ref: str | None = None) -> str:
        what = f"file {path} in {repo}" + (f"@{ref}" if ref else "")
        content = self._read(
            what,
            lambda: self.gh.get_repo(split_repo(repo)).get_contents(path, **({"ref": ref} if ref else {})),
        )
        if isinstance(content, list):
            raise InputError(f"{what} is a directory, not a markdown file")
        return content.decoded_content.decode("utf-8", errors="replace")

    def list_issues(
        self, repo: str, label: str | None = None, *, creator: str | None = None
    ) -> list[IssueRef]:
        """Every issue (open and closed) with `label`, or opened by `creator`: the first page
        tells how many follow, and those are read at once, each retried on its own.

        Oldest first, so an issue filed while the pages are read lands past the last one
        instead of shifting an older one off the end (newest first would lose that one, and
        its kind would be filed again). Pages go through PyGithub's requester straight to
        refs: building 5,000 PyGithub objects costs more CPU than the requests themselves.
        """
        what = f"issues {f'labelled {label!r}' if label else f'opened by {creator}'} in {repo}"
        url = f"/repos/{split_repo(repo)}/issues"
        params: dict[str, Any] = {
            "state": "all",
            **({"labels": label} if label else {}),
            **({"creator": creator} if creator else {}),
            "sort": "created",
            "direction": "asc",
            "per_page": PER_PAGE,
        }

        def page(n: int) -> tuple[dict[str, Any], list[IssueRef]]:
            return self._read(f"{what} (page {n})", lambda: self._issue_page(url, {**params, "page": n}))

        headers, first = page(1)
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="github") as pool:
            rest = [refs for _, refs in pool.map(page, range(2, _last_page(headers) + 1))]
        return [ref for refs in (first, *rest) for ref in refs if not ref.is_pull_request]

    def _issue_page(self, url: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[IssueRef]]:
        headers, data = self.gh.requester.requestJsonAndCheck("GET", url, parameters=params)
        if not isinstance(data, list):
            raise TypeError("an issue listing is a JSON array")
        return headers, [_raw_ref(raw) for raw in data]

    def create_issue(self, repo: str, title: str, body: str, labels: list[str]) -> IssueRef:
        r = self.gh.get_repo(split_repo(repo))
        return _ref(
            self._write(f"new issue in {repo}", lambda: r.create_issue(title=title, body=body, labels=labels))
        )

    def add_labels(self, repo: str, number: int, labels: list[str]) -> tuple[str, ...]:
        """Labels added after the fact: GitHub drops them from a new issue without push access,
        and Triage access may add them here. Returns the issue's labels as GitHub answers them."""
        issue = self.gh.get_repo(split_repo(repo)).get_issue(number)
        what = f"labels {labels} on {repo}#{number}"
        try:
            self._write(what, lambda: issue.add_to_labels(*labels))
        except AuthError as exc:
            raise AuthError(
                SYSTEM,
                f"{what}: refused (HTTP 403); the account behind {SETTING} needs Triage (or Write) access "
                f"to {repo} to label issues",
                status=exc.status,
            ) from None
        return self.issue(repo, number).labels

    def issue(self, repo: str, number: int) -> IssueRef:
        """The issue as GitHub holds it now (a person may have edited it since it was listed)."""
        return self._read(
            f"{repo}#{number}", lambda: _ref(self.gh.get_repo(split_repo(repo)).get_issue(number))
        )

    def login(self) -> str | None:
        """The token's account, or None for a GitHub App's token (GitHub refuses it `/user`)."""
        try:
            return self._read("the token's account", lambda: self.gh.get_user().login)
        except AuthError as exc:
            if exc.status == 403:
                return None
            raise

    def comments(self, repo: str, number: int) -> list[str]:
        return self._read(
            f"comments of {repo}#{number}",
            lambda: [
                c.body or "" for c in self.gh.get_repo(split_repo(repo)).get_issue(number).get_comments()
            ],
        )

    def comment(self, repo: str, number: int, body: str) -> None:
        issue = self.gh.get_repo(split_repo(repo)).get_issue(number)
        self._write(f"comment on {repo}#{number}", lambda: issue.create_comment(body))

    def edit(self, repo: str, number: int, **fields: Any) -> IssueRef:
        issue = self.gh.get_repo(split_repo(repo)).get_issue(number)
        self._write(f"edit of {repo}#{number}", lambda: issue.edit(**fields))
        return _ref(issue)

    def check(self, repo: str) -> str:
        def seen() -> tuple[str, int]:
            r = self.gh.get_repo(split_repo(repo))
            return r.full_name, r.id  # reading them makes the lazy repository fetch itself

        name, ident = self._read(f"repository {repo}", seen)
        return f"GitHub: token accepted, repository {name} visible (id {ident})"

    # The git side: the runbook folder's tree, and the branch, commit and draft pull request
    # that add an entry. Each write that lost its answer is looked for before it is sent again.

    def tree(self, repo: str, ref: str) -> list[str]:
        """Every file (blob) path at `ref`, in one recursive tree listing."""
        what = f"the file tree of {repo}@{ref}"
        truncated, paths = self._read(
            what,
            lambda: _blobs(self.gh.get_repo(split_repo(repo)).get_git_tree(ref, recursive=True)),
        )
        if truncated:
            raise InputError(
                f"{what} is over GitHub's 100,000 entries, so its listing is cut; "
                "keep the runbook in a smaller repository or name its files one by one"
            )
        return paths

    def default_branch(self, repo: str) -> str:
        return self._read(
            f"default branch of {repo}", lambda: str(self.gh.get_repo(split_repo(repo)).default_branch)
        )

    def branch_sha(self, repo: str, branch: str) -> str | None:
        """The commit `branch` points at, or None when there is no such branch."""
        r = self.gh.get_repo(split_repo(repo))
        try:
            return self._read(
                f"branch {branch} of {repo}", lambda: str(r.get_git_ref(f"heads/{branch}").object.sha)
            )
        except NotFoundError:
            return None

    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        """A branch at `sha`; one that exists already counts as made (a rerun reuses it)."""
        r = self.gh.get_repo(split_repo(repo))
        what = f"new branch {branch} in {repo}"

        def write() -> None:
            try:
                self._push(what, repo, lambda: r.create_git_ref(f"refs/heads/{branch}", sha))
            except RejectedError as exc:
                if exc.status != 422 or "Reference already exists" not in str(exc):
                    raise

        try:
            write()
        except UnavailableError:
            if self.branch_sha(repo, branch) is None:  # the lost write did not happen: once more
                write()

    def file(self, repo: str, path: str, ref: str | None = None) -> tuple[str, str] | None:
        """A file's text and blob sha (an update must name it), or None when it does not exist."""
        what = f"file {path} in {repo}" + (f"@{ref}" if ref else "")
        r = self.gh.get_repo(split_repo(repo))
        try:
            content = self._read(
                what, lambda: _text_and_sha(r, r.get_contents(path, **({"ref": ref} if ref else {})))
            )
        except NotFoundError:
            return None
        if content is None:
            raise InputError(f"{what} is a folder, not a markdown file")
        return content

    def put_file(self, repo: str, path: str, branch: str, message: str, text: str, sha: str | None) -> None:
        """One commit writing `text` to `path` on `branch`: created when `sha` is None, else
        updated from that blob. After a lost answer the file is read again: holding `text`, the
        commit happened; otherwise it is written once more from the sha read."""
        r = self.gh.get_repo(split_repo(repo))
        what = f"commit of {path} to {repo}@{branch}"

        def write(current: str | None) -> None:
            if current is None:
                self._push(what, repo, lambda: r.create_file(path, message, text, branch=branch))
            else:
                self._push(what, repo, lambda: r.update_file(path, message, text, current, branch=branch))

        try:
            write(sha)
        except UnavailableError:
            now = self.file(repo, path, branch)
            if now is not None and now[0] == text:
                return  # the lost write happened
            if (now[1] if now is not None else None) != sha:
                raise  # someone else wrote the file meanwhile: not ours to overwrite
            write(sha)

    def find_pull(self, repo: str, branch: str) -> PullRef | None:
        """The pull request from `branch` (open or closed, newest first), or None."""
        r = self.gh.get_repo(split_repo(repo))
        owner = split_repo(repo).split("/")[0]

        def newest() -> PullRef | None:
            for pr in r.get_pulls(state="all", head=f"{owner}:{branch}"):
                return _pull(pr)
            return None

        return self._read(f"pull requests from {branch} in {repo}", newest)

    def pull(self, repo: str, number: int) -> PullRef | None:
        """Pull request `number`, or None when there is none (or the token cannot see it)."""
        r = self.gh.get_repo(split_repo(repo))
        try:
            return self._read(f"pull request #{number} in {repo}", lambda: _pull(r.get_pull(number)))
        except NotFoundError:
            return None

    def pulls(self, repo: str) -> list[PullRef]:
        """Every pull request, open and closed, in one paged listing (`state=all`)."""
        r = self.gh.get_repo(split_repo(repo))
        return self._read(f"pull requests in {repo}", lambda: [_pull(pr) for pr in r.get_pulls(state="all")])

    def create_pull(
        self, repo: str, title: str, body: str, head: str, base: str, draft: bool = True
    ) -> PullRef:
        """A pull request from `head` into `base`; an open one from `head` is reused, and a lost
        answer is looked for by its head before a second is sent."""
        r = self.gh.get_repo(split_repo(repo))
        what = f"new pull request from {head} in {repo}"

        def send() -> PullRef:
            return _pull(r.create_pull(base=base, head=head, title=title, body=body, draft=draft))

        try:
            return self._write(what, send)
        except RejectedError as exc:
            found = self.find_pull(repo, head) if "A pull request already exists" in str(exc) else None
            if found is None:
                raise
            return found
        except UnavailableError:
            found = self.find_pull(repo, head)
            if found is not None:
                return found
            return self._write(what, send)

    def _push(self, what: str, repo: str, call: Callable[[], object]) -> None:
        """A write that needs push access: GitHub hides the repository from a token without it (404)."""
        try:
            self._write(what, call)
        except NotFoundError as exc:
            raise NotFoundError(
                SYSTEM,
                f"{what} was not found (HTTP 404): GitHub answers so when the account behind {SETTING} "
                f"lacks Write access to {repo}, or the repository or branch does not exist",
                status=exc.status,
            ) from None

    # Checks for `oncall doctor`: reads only, so a check never files, labels or pushes anything.

    def access(self, repo: str) -> RepoAccess:
        """The repository as the token's account sees it, with its role (`permissions`), which
        GitHub sends for a user's token and leaves out for a GitHub App's."""
        what = f"repository {repo}"
        _, data = self._read(
            what, lambda: self.gh.requester.requestJsonAndCheck("GET", f"/repos/{split_repo(repo)}")
        )
        with answer_shape(SYSTEM, what, also=(BadAttributeException,)):
            return RepoAccess.model_validate(data)

    def has_label(self, repo: str, label: str) -> bool:
        """Whether the repository has the label (GitHub answers 404 for a label it lacks)."""
        path = f"/repos/{split_repo(repo)}/labels/{quote(label, safe='')}"
        try:
            self._read(
                f"label {label!r} in {repo}", lambda: self.gh.requester.requestJsonAndCheck("GET", path)
            )
        except NotFoundError:
            return False
        return True


class RepoAccess(BaseModel):
    """What `GET /repos/{owner}/{repo}` says about the caller's access: `permissions` holds
    admin, maintain, push, triage and pull; None when GitHub did not say (a GitHub App's token)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    full_name: str
    permissions: dict[str, bool] | None = None
    has_issues: bool = True
    archived: bool = False

    @property
    def role(self) -> str | None:
        """The highest role the permissions grant: admin, maintain, write, triage or read."""
        if self.permissions is None:
            return None
        for key, role in (
            ("admin", "admin"),
            ("maintain", "maintain"),
            ("push", "write"),
            ("triage", "triage"),
        ):
            if self.permissions.get(key):
                return role
        return "read" if self.permissions.get("pull") else "none"


def _blobs(tree: Any) -> tuple[bool, list[str]]:
    return bool(tree.raw_data.get("truncated")), [e.path for e in tree.tree if e.type == "blob"]


def _text_and_sha(repo: Any, content: Any) -> tuple[str, str] | None:
    """A file's text and blob sha; None for a folder. A file over 1 MB comes without its content
    (`encoding` "none"): its blob has it, in one more request."""
    if isinstance(content, list):
        return None
    raw = (
        base64.b64decode(repo.get_git_blob(content.sha).content)
        if content.encoding == "none"
        else content.decoded_content
    )
    return raw.decode("utf-8", errors="replace"), str(content.sha)
