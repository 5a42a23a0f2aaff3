"""A fake GitHub REST API serving what PyGithub calls for runbook-gaps.

The authenticated user, issues (list with label/state/creator filters and Link paging,
create, get, edit, add labels), comments (list, create) and repository labels (list, get,
create); trees, refs, contents and pull requests live in `github_git`. Objects carry `url` fields on the fake's own base URL, as PyGithub follows them.
Their `html_url` pages are on that base too, as a GitHub Enterprise host's are on the host
(`runbook_files.web_base`): never github.com, where a sandbox name like example-org may be
someone's real account, so a demo's "Filed ..." line plainly names the sandbox.

What GitHub does and the fake does too:
- Each token acts as an account with a role on the repositories (`add_account`). Without push
  access (roles `read` and `triage`) labels, assignees and milestone on a new issue are silently
  dropped (GitHub's create-an-issue docs); `triage` may add labels afterwards, `read` gets 403
  "Must have admin rights to Repository." (as api.github.com answers it).
- Errors use GitHub's bodies: 401 "Bad credentials", 404 "Not Found", 422 "Validation Failed"
  naming the field (a title over 256 characters, a body over 65,536), 403 secondary rate limits
  with Retry-After once too many writes arrive within a minute, and 403 primary rate limits with
  `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` once an account's hourly quota is spent.
- `per_page` over 100 is served as 100; zero, negative or not a number as the default 30; a
  `page` that is not a positive number as page 1. GitHub answers those with 200, not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import public_base

BODY_LIMIT = 65_536
TITLE_LIMIT = 256
DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100
ROLES = ("read", "triage", "write", "maintain", "admin")
PUSH_ROLES = frozenset({"write", "maintain", "admin"})
NO_RIGHTS = "Must have admin rights to Repository."


@dataclass(frozen=True)
class GitHubAccount:
    login: str
    ident: int
    role: str  # on every repository of the fake

    @property
    def push(self) -> bool:
        return self.role in PUSH_ROLES


@dataclass
class GitHubRepo:
    files: dict[str, str] = field(default_factory=dict)  # "path@ref" -> text
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_branch: str = "main"
    branches: set[str] = field(default_factory=set)  # made by POST git/refs; others are named by `files`


@dataclass
class GitHubState:
    token: str = "sandbox-github-token"
    login: str = "oncall-bot"
    repos: dict[str, GitHubRepo] = field(default_factory=dict)
    writes_per_minute: int = 80
    requests_per_hour: int = 5_000  # GitHub's primary limit for a token
    accounts: dict[str, GitHubAccount] = field(default_factory=dict)  # token -> account, beside `token`
    tree_limit: int = 100_000  # entries in a recursive tree listing before GitHub cuts it (`truncated`)
    contents_latency: float = 0.0  # seconds each contents read takes, so tests can see reads overlap
    contents_in_flight: int = 0
    contents_peak: int = 0  # the most contents reads served at once (tests)
    writes_at: list[float] = field(default_factory=list)  # monotonic arrival of each accepted write (tests)
    _writes: list[float] = field(default_factory=list)
    _used: dict[str, int] = field(default_factory=dict)  # login -> requests in this hour
    _reset: float = 0.0  # epoch seconds when the hour's quota refills
    _ids: int = 1000

    def repo(self, full_name: str) -> GitHubRepo:
        return self.repos.setdefault(full_name, GitHubRepo())

    def account(self, token: str) -> GitHubAccount | None:
        if token == self.token:
            return GitHubAccount(self.login, 1, "admin")
        return self.accounts.get(token)

    def add_account(self, token: str, login: str, role: str) -> GitHubAccount:
        """Another token, acting as `login` with `role` (read, triage, write, maintain, admin)."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is none of {ROLES}")
        self.accounts[token] = GitHubAccount(login, 2 + len(self.accounts), role)
        return self.accounts[token]

    def forget_writes(self) -> None:
        """Start a fresh secondary-rate-limit minute and primary-rate-limit hour (tests)."""
        self._writes.clear()
        self.writes_at.clear()
        self._used.clear()
        self._reset = 0.0

    def spend_quota(self, login: str, reset_in: float) -> None:
        """Use up `login`'s hourly quota, refilling `reset_in` seconds from now (tests)."""
        self._used[login] = self.requests_per_hour
        self._reset = time.time() + reset_in

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def label(
        self, repo: GitHubRepo, name: str, color: str = "ededed", description: str | None = None
    ) -> dict[str, Any]:
        if name not in repo.labels:
            ident = self.next_id()
            repo.labels[name] = {
                "id": ident,
                "node_id": f"LA_{ident}",
                "name": name,
                "color": color,
                "default": False,
                "description": description,
            }
        return repo.labels[name]

    def new_issue(
        self, repo_name: str, title: str, body: str, labels: list[str], creator: str | None = None
    ) -> dict[str, Any]:
        """Store an issue as GitHub would on POST; tests use it to preload many at once."""
        repo = self.repo(repo_name)
        ident = self.next_id()
        issue = {
            "id": ident,
            "node_id": f"I_{ident}",
            "number": len(repo.issues) + 1,
            "title": title,
            "body": body,
            "labels": [self.label(repo, name) for name in labels],
            "state": "open",
            "state_reason": None,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "author_association": "NONE",
            "active_lock_reason": None,
            "_creator": creator or self.login,  # not served: the answer's `user`
        }
        repo.issues.append(issue)
        return issue


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = extra.pop("headers", None)
    docs = extra.pop("docs", DOCS)
    return JSONResponse(
        {"message": message, "documentation_url": docs, "status": str(status), **extra},
        status_code=status,
        headers=headers,
    )


def _invalid(resource: str, name: str, code: str, message: str | None = None) -> JSONResponse:
    """GitHub's 422 naming one field, e.g. {"resource": "Issue", "code": "missing_field", "field": "title"}."""
    error = {"resource": resource, "code": code, "field": name}
    return _error(422, "Validation Failed", errors=[{**error, "message": message} if message else error])


def _too_long(resource: str, payload: dict[str, Any]) -> JSONResponse | None:
    for name, limit in (("title", TITLE_LIMIT), ("body", BODY_LIMIT)):
        if len(payload.get(name) or "") > limit:
            return _invalid(resource, name, "custom", f"{name} is too long (maximum is {limit} characters)")
    return None


def _positive(raw: str | None, default: int) -> int:
    """GitHub serves a paging value it cannot use (0, -1, 1.5, abc) as its default, never an error."""
    return int(raw) if raw is not None and raw.isdigit() and int(raw) > 0 else default


def _paging(request: Request) -> tuple[int, int]:
    per_page = min(MAX_PER_PAGE, _positive(request.query_params.get("per_page"), DEFAULT_PER_PAGE))
    return per_page, _positive(request.query_params.get("page"), 1)


# The orders GitHub's issue listing offers (`sort`), by what each compares.
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "created": lambda i: i["created_at"],
    "updated": lambda i: i["updated_at"],
    "comments": lambda i: i["comments"],
}


def build_github_app(state: GitHubState) -> Router:
    base = public_base

    def check(request: Request, write: bool = False) -> GitHubAccount | JSONResponse:
        """The account behind the token, or GitHub's refusal: bad credentials, then the rate limits."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        who = state.account(token) if scheme.lower() in ("token", "bearer") else None
        if who is None:
            return _error(401, "Bad credentials")
        now = time.time()
        if now >= state._reset:
            state._used.clear()
            state._reset = now + 3600
        used = state._used.get(who.login, 0)
        if used >= state.requests_per_hour:
            return _error(
                403,
                f"API rate limit exceeded for user ID {who.ident}.",
                docs=RATE_DOCS,
                headers={
                    "X-RateLimit-Limit": str(state.requests_per_hour),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Used": str(used),
                    "X-RateLimit-Reset": str(int(state._reset)),
                    "X-RateLimit-Resource": "core",
                },
            )
        state._used[who.login] = used + 1
        if write:
            tick = time.monotonic()
            state._writes[:] = [t for t in state._writes if tick - t < 60]
            if len(state._writes) >= state.writes_per_minute:
                return _error(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    headers={"Retry-After": "60"},
                )
            state._writes.append(tick)
            state.writes_at.append(tick)
        return who

    def repo_of(request: Request) -> tuple[str, GitHubRepo] | None:
        name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        return (name, state.repos[name]) if name in state.repos else None

    def user(request: Request, login: str) -> dict[str, Any]:
        api = f"{base(request)}/users/{login}"
        ident = (
            1
            if login == state.login
            else next((a.ident for a in state.accounts.values() if a.login == login), 1)
        )
        return {
            "login": login,
            "id": ident,
            "node_id": f"U_{ident}",
            "type": "Bot",
            "site_admin": False,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{base(request)}/{login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
        }

    def label_json(request: Request, repo_name: str, label: dict[str, Any]) -> dict[str, Any]:
        return {**label, "url": f"{base(request)}/repos/{repo_name}/labels/{quote(label['name'], safe='')}"}

    def decorate(request: Request, repo_name: str, issue: dict[str, Any]) -> dict[str, Any]:
        api = f"{base(request)}/repos/{repo_name}/issues/{issue['number']}"
        html = f"{base(request)}/{repo_name}/pull/{issue['number']}"
        pr = (
            {
                "url": f"{base(request)}/repos/{repo_name}/pulls/{issue['number']}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": None,
            }
            if "_pr" in issue
            else None
        )
        return {
            **{k: v for k, v in issue.items() if not k.startswith("_")},
            "labels": [label_json(request, repo_name, lb) for lb in issue["labels"]],
            "user": user(request, issue.get("_creator", state.login)),
            "url": api,
            "repository_url": f"{base(request)}/repos/{repo_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{base(request)}/{repo_name}/{'pull' if pr else 'issues'}/{issue['number']}",
            **({"pull_request": pr} if pr else {}),
        }

    def paged(
        request: Request, path: str, items: list[dict[str, Any]], render: Callable[[dict[str, Any]], Any]
    ) -> JSONResponse:
        """One page of `items`, rendered, with GitHub's Link header (the caller's own parameters kept)."""
        per_page, page = _paging(request)
        chunk = [render(i) for i in items[(page - 1) * per_page : page * per_page]]
        last = max(1, -(-len(items) // per_page))
        params = {k: v for k, v in request.query_params.items() if k != "page"}

        def link(to: int, rel: str) -> str:
            return f'<{base(request)}{path}?{urlencode({**params, "page": to})}>; rel="{rel}"'

        links = [link(page - 1, "prev"), link(1, "first")] if page > 1 else []
        if page < last:
            links = [link(page + 1, "next"), link(last, "last"), *links]
        return JSONResponse(chunk, headers={"Link": ", ".join(links)} if links else {})

    async def authenticated_user(request: Request) -> JSONResponse:
        if isinstance(who := check(request), JSONResponse):
            return who
        return JSONResponse(user(request, who.login))

    async def issues(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if isinstance(who := check(request, write), JSONResponse):
            return who
        found = repo_of(request)
        if found is None:
            return _error(404, "Not Found")
        name, repo = found
        if write:
            payload = await request.json()
            title, body = payload.get("title"), payload.get("body") or ""
            if not title:
                return _invalid("Issue", "title", "missing_field")
            if (refused := _too_long("Issue", payload)) is not None:
                return refused
            # Without push access GitHub keeps the issue and silently drops labels (and assignees, milestone).
            labels = [str(lb) for lb in payload.get("labels") or []] if who.push else []
            issue = state.new_issue(name, title, body, labels, creator=who.login)
            return JSONResponse(decorate(request, name, issue), status_code=201)
        wanted_state = request.query_params.get("state", "open")
        labels = [lb for lb in (request.query_params.get("labels") or "").split(",") if lb]
        creator = request.query_params.get("creator")
        matching = [
            i
            for i in repo.issues
            if (wanted_state == "all" or i["state"] == wanted_state)
            and all(lb in {x["name"] for x in i["labels"]} for lb in labels)
            and (creator is None or i["_creator"].lower() == creator.lower())
        ]
        sort = request.query_params.get("sort", "created")
        direction = request.query_params.get("direction", "desc")
        if sort not in SORTS or direction not in ("asc", "desc"):
            return _error(422, "Validation Failed")
        # Issue numbers rise with creation time, so they break ties the way GitHub does.
        matching.sort(key=lambda i: (SORTS[sort](i), i["number"]), reverse=direction == "desc")
        return paged(request, f"/repos/{name}/issues", matching, lambda i: decorate(request, name, i))

    def issue_of(
        request: Request, write: bool
    ) -> tuple[GitHubAccount, str, GitHubRepo, dict[str, Any]] | JSONResponse:
        """The caller and the issue its path names, or GitHub's refusal (as `check`, or 404)."""
        if isinstance(who := check(request, write), JSONResponse):
            return who
        found = repo_of(request)
        number = int(request.path_params["number"])
        issue = next((i for i in found[1].issues if i["number"] == number), None) if found else None
        return (who, found[0], found[1], issue) if found and issue else _error(404, "Not Found")

    async def issue(request: Request) -> JSONResponse:
        write = request.method == "PATCH"
        if isinstance(found := issue_of(request, write), JSONResponse):
            return found
        who, name, repo, item = found
        if write:
            payload = await request.json()
            if "title" in payload and not payload["title"]:
                return _invalid("Issue", "title", "missing_field")
            if (refused := _too_long("Issue", payload)) is not None:
                return refused
            for key in ("title", "body"):
                if key in payload:
                    item[key] = payload[key]
            if "state" in payload and payload["state"] != item["state"]:
                item["state"] = payload["state"]
                item["closed_at"] = _now() if payload["state"] == "closed" else None
                item["state_reason"] = payload.get("state_reason") or (
                    "completed" if payload["state"] == "closed" else "reopened"
                )
            if "labels" in payload and who.push:  # dropped without push access, as on create
                item["labels"] = [state.label(repo, str(lb)) for lb in payload["labels"]]
            item["updated_at"] = _now()
        return JSONResponse(decorate(request, name, item))

    async def issue_labels(request: Request) -> JSONResponse:
        """POST adds labels (PyGithub's add_to_labels sends a bare list): triage access is enough."""
        write = request.method == "POST"
        if isinstance(found := issue_of(request, write), JSONResponse):
            return found
        who, name, repo, item = found
        if write:
            if who.role == "read":
                return _error(403, NO_RIGHTS)
            payload = await request.json()
            names = payload.get("labels", []) if isinstance(payload, dict) else payload
            have = {lb["name"] for lb in item["labels"]}
            item["labels"] += [state.label(repo, str(n)) for n in names if str(n) not in have]
            item["updated_at"] = _now()
        return JSONResponse([label_json(request, name, lb) for lb in item["labels"]])

    async def repo_labels(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if isinstance(who := check(request, write), JSONResponse):
            return who
        found = repo_of(request)
        if found is None:
            return _error(404, "Not Found")
        name, repo = found
        if not write:
            return paged(
                request,
                f"/repos/{name}/labels",
                list(repo.labels.values()),
                lambda lb: label_json(request, name, lb),
            )
        if not who.push:
            return _error(403, NO_RIGHTS)
        payload = await request.json()
        label = str(payload.get("name") or "")
        if not label:
            return _invalid("Label", "name", "missing_field")
        if label in repo.labels:
            return _invalid("Label", "name", "already_exists")
        made = state.label(repo, label, str(payload.get("color") or "ededed"), payload.get("description"))
        return JSONResponse(label_json(request, name, made), status_code=201)

    async def repo_label(request: Request) -> JSONResponse:
        if isinstance(who := check(request), JSONResponse):
            return who
        found = repo_of(request)
        wanted = request.path_params["name"]
        if found is None or wanted not in found[1].labels:
            return _error(404, "Not Found")
        return JSONResponse(label_json(request, found[0], found[1].labels[wanted]))

    async def comments(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if isinstance(found := issue_of(request, write), JSONResponse):
            return found
        who, name, repo, item = found
        listing = repo.comments.setdefault(item["number"], [])
        if write:
            body = (await request.json()).get("body") or ""
            if not body:
                return _invalid("IssueComment", "body", "missing_field")
            if (refused := _too_long("IssueComment", {"body": body})) is not None:
                return refused
            ident = state.next_id()
            comment = {
                "id": ident,
                "node_id": f"IC_{ident}",
                "body": body,
                "user": user(request, who.login),
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE",
                "url": f"{base(request)}/repos/{name}/issues/comments/{ident}",
                "html_url": f"{base(request)}/{name}/issues/{item['number']}#issuecomment-{ident}",
                "issue_url": f"{base(request)}/repos/{name}/issues/{item['number']}",
            }
            listing.append(comment)
            item["comments"] = len(listing)
            return JSONResponse(comment, status_code=201)
        return JSONResponse(listing)

    from oncall.sandbox.github_git import FakeEdge, git_routes, repository_builder

    edge = FakeEdge(check, repo_of, user, base, paged, decorate)
    repository_json = repository_builder(state, edge)

    async def repository(request: Request) -> JSONResponse:
        if isinstance(who := check(request), JSONResponse):
            return who
        found = repo_of(request)
        if found is None:
            return _error(404, "Not Found")
        rank = ROLES.index(who.role)
        # The caller's own access, as GitHub reports it to an authenticated request.
        permissions = {
            "admin": rank >= ROLES.index("admin"),
            "maintain": rank >= ROLES.index("maintain"),
            "push": who.push,
            "triage": rank >= ROLES.index("triage"),
            "pull": True,
        }
        return JSONResponse(repository_json(request, found[0], permissions))

    return Router(
        routes=[
            Route("/user", authenticated_user),
            Route("/repos/{owner}/{repo}", repository),
            *git_routes(state, edge),
            Route("/repos/{owner}/{repo}/labels", repo_labels, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/labels/{name}", repo_label),
            Route("/repos/{owner}/{repo}/issues", issues, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}", issue, methods=["GET", "PATCH"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}/labels", issue_labels, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}/comments", comments, methods=["GET", "POST"]),
        ]
    )
