"""GitHub through PyGithub: read the runbook, list gap issues by label, and write issues.

PyGithub's default retry repeats 5xx answers to POSTs up to ten times, which files
duplicates when GitHub created the issue and then failed to answer. Here only GET/HEAD are
retried by PyGithub; a write that fails without a clear answer raises `UnavailableError`,
and the caller looks for its marker before writing again. Secondary rate limits (403/429
with Retry-After) mean GitHub did nothing, so those writes are retried after the wait.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import (
    BadAttributeException,
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)
from pydantic import BaseModel, ConfigDict

from oncall.clients.base import DEFAULT_CONCURRENCY
from oncall.clients.records import answer_shape
from oncall.errors import (
    AuthError,
    InputError,
    NotFoundError,
    OutsideError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)

SYSTEM = "GitHub"
SETTING = "ONCALL_GITHUB_TOKEN (Secret block 'oncall-github-token')"
T = TypeVar("T")
PER_PAGE = 100


class IssueRef(BaseModel):
    """An issue as plain data, so planning code never touches PyGithub objects."""

    model_config = ConfigDict(frozen=True)

    number: int
    title: str
    body: str
    state: str
    state_reason: str | None = None
    html_url: str
    closed_at: datetime | None = None
    is_pull_request: bool = False


def _ref(issue: Any) -> IssueRef:
    return IssueRef(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        state=issue.state,
        state_reason=issue.state_reason,
        html_url=issue.html_url,
        closed_at=issue.closed_at,
        is_pull_request="/pull/" in issue.html_url,  # reading .pull_request would fetch each issue again
    )


def _raw_ref(raw: dict[str, Any]) -> IssueRef:
    return IssueRef.model_validate(
        {**raw, "body": raw.get("body") or "", "is_pull_request": "pull_request" in raw}
    )


def _last_page(headers: dict[str, Any]) -> int:
    """The `rel="last"` page of a Link header (PyGithub lowercases header names); a listing
    without one has a single page."""
    found = re.search(r'<([^>]*)>;\s*rel="last"', str(headers.get("link", "")))
    if found is None:
        return 1
    pages = parse_qs(urlsplit(found.group(1)).query).get("page", ["1"])
    return int(pages[0])


def split_repo(full_name: str) -> str:
    parts = full_name.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"repository {full_name!r} should look like 'owner/name'")
    return full_name.strip()


class GitHubClient:
    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.github.com",
        timeout: float = 15.0,
        write_interval: float = 1.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 120.0,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._concurrency = concurrency
        self._sleep = sleep
        self._max_wait = max_wait
        self._attempts = attempts
        self._backoff = backoff
        retry = GithubRetry(
            total=attempts,
            backoff_factor=backoff,
            allowed_methods=frozenset({"GET", "HEAD"}),
            secondary_rate_wait=60,
            max_rate_limit_wait=max_wait,
        )
        self.gh = Github(
            base_url=base_url.rstrip("/"),
            auth=Auth.Token(token),
            timeout=int(max(1, timeout)),
            per_page=PER_PAGE,
            pool_size=concurrency,
            retry=retry,
            seconds_between_requests=0,
            seconds_between_writes=write_interval,
            lazy=True,
        )

    def close(self) -> None:
        self.gh.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, what: str, *, write: bool = False) -> Iterator[None]:
        try:
            # PyGithub parses lazily and trusts the shape: a wrong one surfaces inside the call.
            with answer_shape(SYSTEM, what, write=write, also=(BadAttributeException,)):
                yield
        except BadCredentialsException as exc:
            raise AuthError(
                SYSTEM, f"{what}: bad credentials (HTTP {exc.status}); check {SETTING}", status=exc.status
            ) from None
        except UnknownObjectException as exc:
            raise NotFoundError(
                SYSTEM,
                f"{what} was not found (HTTP 404); check the repository name and that {SETTING} can see it",
                status=exc.status,
            ) from None
        except GithubException as exc:
            message = exc.data.get("message") if isinstance(exc.data, dict) else str(exc.data)
            if isinstance(exc, RateLimitExceededException) or exc.status == 429:
                limited = RateLimitedError(
                    SYSTEM, f"{what}: rate limited (HTTP {exc.status}); run again later", status=exc.status
                )
                after = (exc.headers or {}).get("retry-after", "")
                limited.retry_after = float(after) if after.isdigit() else None
                raise limited from None
            if exc.status == 403:
                raise AuthError(
                    SYSTEM,
                    f"{what}: forbidden ({message}); {SETTING} needs issues:write and contents:read",
                    status=exc.status,
                ) from None
            if exc.status >= 500:
                tail = "; the write may have happened, a rerun looks for it first" if write else ""
                raise UnavailableError(
                    SYSTEM, f"{what}: HTTP {exc.status}{tail}", status=exc.status
                ) from None
            raise RejectedError(SYSTEM, f"{what}: HTTP {exc.status}: {message}", status=exc.status) from None
        except requests.RequestException as exc:
            tail = "; the write may have happened, a rerun looks for it first" if write else ""
            raise UnavailableError(SYSTEM, f"{what}: {type(exc).__name__}{tail}") from None

    def _write(self, what: str, call: Callable[[], T]) -> T:
        """A write, retried only after a rate limit, when GitHub has certainly not acted."""
        return self._retrying(what, call, write=True)

    def _read(self, what: str, call: Callable[[], T]) -> T:
        """A read, retried also when its answer broke off mid-body: urllib3 retries statuses and
        connections, but a cut body reaches requests later, as ChunkedEncodingError."""
        return self._retrying(what, call, write=False)

    def _retrying(self, what: str, call: Callable[[], T], *, write: bool) -> T:
        waited, attempt = 0.0, 0
        problem: OutsideError
        while True:
            attempt += 1
            try:
                with self._errors(what, write=write):
                    return call()
            except RateLimitedError as exc:
                # GitHub: Retry-After when given, else wait at least a minute (secondary limits).
                wait, problem = (exc.retry_after if exc.retry_after is not None else 60.0), exc
            except UnavailableError as exc:
                if write or attempt >= self._attempts:
                    raise
                wait, problem = self._backoff * 2 ** (attempt - 1), exc
            if waited + wait > self._max_wait:
                raise problem
            self._sleep(wait)
            waited += wait

    def read_file(self, repo: str, path: str, ref: str | None = None) -> str:
        what = f"file {path} in {repo}" + (f"@{ref}" if ref else "")
        content = self._read(
            what,
            lambda: self.gh.get_repo(split_repo(repo)).get_contents(path, **({"ref": ref} if ref else {})),
        )
        if isinstance(content, list):
            raise InputError(f"{what} is a directory, not a markdown file")
        return content.decoded_content.decode("utf-8", errors="replace")

    def list_issues(self, repo: str, label: str) -> list[IssueRef]:
        """Every issue (open and closed) with `label`: the first page tells how many follow,
        and those are read at once, each retried on its own.

        Oldest first, so an issue filed while the pages are read lands past the last one
        instead of shifting an older one off the end (newest first would lose that one, and
        its kind would be filed again). Pages go through PyGithub's requester straight to
        refs: building 5,000 PyGithub objects costs more CPU than the requests themselves.
        """
        what = f"issues labelled {label!r} in {repo}"
        url = f"/repos/{split_repo(repo)}/issues"
        params = {
            "state": "all",
            "labels": label,
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
