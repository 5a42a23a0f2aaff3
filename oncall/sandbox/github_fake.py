"""A fake GitHub REST API serving what PyGithub calls for runbook-gaps.

Contents, issues (list with label/state filters and Link paging, create, get, edit) and
comments (list, create). Objects carry `url` fields on the fake's own base URL, as PyGithub
follows them. Errors use GitHub's bodies: 401 "Bad credentials", 404 "Not Found", 422
"Validation Failed" (e.g. body over 65,536 characters), and 403 secondary rate limits with
Retry-After once too many writes arrive within a minute.
"""

from __future__ import annotations

import base64
import hashlib
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import public_base

BODY_LIMIT = 65_536
DOCS = "https://docs.github.com/rest"


@dataclass
class GitHubRepo:
    files: dict[str, str] = field(default_factory=dict)  # "path@ref" -> text
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class GitHubState:
    token: str = "sandbox-github-token"
    login: str = "oncall-bot"
    repos: dict[str, GitHubRepo] = field(default_factory=dict)
    writes_per_minute: int = 80
    _writes: list[float] = field(default_factory=list)
    _ids: int = 1000

    def repo(self, full_name: str) -> GitHubRepo:
        return self.repos.setdefault(full_name, GitHubRepo())

    def forget_writes(self) -> None:
        """Start a fresh secondary-rate-limit minute (tests)."""
        self._writes.clear()

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def label(self, repo: GitHubRepo, name: str) -> dict[str, Any]:
        if name not in repo.labels:
            ident = self.next_id()
            repo.labels[name] = {
                "id": ident,
                "node_id": f"LA_{ident}",
                "name": name,
                "color": "ededed",
                "default": False,
                "description": None,
            }
        return repo.labels[name]

    def new_issue(self, repo_name: str, title: str, body: str, labels: list[str]) -> dict[str, Any]:
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
        }
        repo.issues.append(issue)
        return issue


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = extra.pop("headers", None)
    return JSONResponse(
        {"message": message, "documentation_url": DOCS, "status": str(status), **extra},
        status_code=status,
        headers=headers,
    )


# The orders GitHub's issue listing offers (`sort`), by what each compares.
SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "created": lambda i: i["created_at"],
    "updated": lambda i: i["updated_at"],
    "comments": lambda i: i["comments"],
}


def build_github_app(state: GitHubState) -> Router:
    base = public_base

    def check(request: Request, write: bool = False) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or token != state.token:
            return _error(401, "Bad credentials")
        if write:
            now = time.monotonic()
            state._writes[:] = [t for t in state._writes if now - t < 60]
            if len(state._writes) >= state.writes_per_minute:
                return _error(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    headers={"Retry-After": "60"},
                )
            state._writes.append(now)
        return None

    def repo_of(request: Request) -> tuple[str, GitHubRepo] | None:
        name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        return (name, state.repos[name]) if name in state.repos else None

    def user(request: Request) -> dict[str, Any]:
        api = f"{base(request)}/users/{state.login}"
        return {
            "login": state.login,
            "id": 1,
            "node_id": "U_1",
            "type": "Bot",
            "site_admin": False,
            "avatar_url": "https://avatars.githubusercontent.com/u/1",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/{state.login}",
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

    def decorate(request: Request, repo_name: str, issue: dict[str, Any]) -> dict[str, Any]:
        api = f"{base(request)}/repos/{repo_name}/issues/{issue['number']}"
        labels = [
            {**lb, "url": f"{base(request)}/repos/{repo_name}/labels/{lb['name']}"} for lb in issue["labels"]
        ]
        return {
            **issue,
            "labels": labels,
            "user": user(request),
            "url": api,
            "repository_url": f"{base(request)}/repos/{repo_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"https://github.com/{repo_name}/issues/{issue['number']}",
        }

    async def contents(request: Request) -> JSONResponse:
        if (denied := check(request)) is not None:
            return denied
        found = repo_of(request)
        path = request.path_params["path"]
        ref = request.query_params.get("ref", "main")
        if found is None or f"{path}@{ref}" not in found[1].files:
            return _error(404, "Not Found")
        name, repo = found
        raw = repo.files[f"{path}@{ref}"].encode()
        encoded = base64.encodebytes(raw).decode()
        url = f"{base(request)}/repos/{name}/contents/{path}?ref={ref}"
        return JSONResponse(
            {
                "type": "file",
                "encoding": "base64",
                "size": len(raw),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "content": encoded,
                "sha": hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest(),
                "url": url,
                "git_url": url,
                "html_url": f"https://github.com/{name}/blob/{ref}/{path}",
                "download_url": None,
                "_links": {"self": url, "git": url, "html": f"https://github.com/{name}/blob/{ref}/{path}"},
            }
        )

    async def issues(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if (denied := check(request, write)) is not None:
            return denied
        found = repo_of(request)
        if found is None:
            return _error(404, "Not Found")
        name, repo = found
        if write:
            payload = await request.json()
            title, body = payload.get("title"), payload.get("body") or ""
            if not title:
                return _error(
                    422,
                    "Validation Failed",
                    errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
                )
            if len(body) > BODY_LIMIT:
                return _error(
                    422,
                    "Validation Failed",
                    errors=[
                        {
                            "resource": "Issue",
                            "code": "custom",
                            "field": "body",
                            "message": f"body is too long (maximum is {BODY_LIMIT} characters)",
                        }
                    ],
                )
            labels = [str(lb) for lb in payload.get("labels") or []]
            issue = state.new_issue(name, title, body, labels)
            return JSONResponse(decorate(request, name, issue), status_code=201)
        wanted_state = request.query_params.get("state", "open")
        labels = [lb for lb in (request.query_params.get("labels") or "").split(",") if lb]
        per_page = min(100, int(request.query_params.get("per_page", "30")))
        page = max(1, int(request.query_params.get("page", "1")))
        matching = [
            i
            for i in repo.issues
            if (wanted_state == "all" or i["state"] == wanted_state)
            and all(lb in {x["name"] for x in i["labels"]} for lb in labels)
        ]
        sort = request.query_params.get("sort", "created")
        direction = request.query_params.get("direction", "desc")
        if sort not in SORTS or direction not in ("asc", "desc"):
            return _error(422, "Validation Failed")
        # Issue numbers rise with creation time, so they break ties the way GitHub does.
        matching.sort(key=lambda i: (SORTS[sort](i), i["number"]), reverse=direction == "desc")
        chunk = matching[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(matching) // per_page))
        params = {k: v for k, v in request.query_params.items() if k != "page"}

        def link(to: int, rel: str) -> str:
            return f'<{base(request)}/repos/{name}/issues?{urlencode({**params, "page": to})}>; rel="{rel}"'

        links = [link(page - 1, "prev"), link(1, "first")] if page > 1 else []
        if page < last:
            links = [link(page + 1, "next"), link(last, "last"), *links]
        headers = {"Link": ", ".join(links)} if links else {}
        return JSONResponse([decorate(request, name, i) for i in chunk], headers=headers)

    def find_issue(request: Request) -> tuple[str, GitHubRepo, dict[str, Any]] | None:
        found = repo_of(request)
        if found is None:
            return None
        number = int(request.path_params["number"])
        issue = next((i for i in found[1].issues if i["number"] == number), None)
        return (found[0], found[1], issue) if issue else None

    async def issue(request: Request) -> JSONResponse:
        write = request.method == "PATCH"
        if (denied := check(request, write)) is not None:
            return denied
        found = find_issue(request)
        if found is None:
            return _error(404, "Not Found")
        name, repo, item = found
        if write:
            payload = await request.json()
            if "body" in payload and len(payload["body"] or "") > BODY_LIMIT:
                return _error(422, "Validation Failed")
            for key in ("title", "body"):
                if key in payload:
                    item[key] = payload[key]
            if "state" in payload and payload["state"] != item["state"]:
                item["state"] = payload["state"]
                item["closed_at"] = _now() if payload["state"] == "closed" else None
                item["state_reason"] = payload.get("state_reason") or (
                    "completed" if payload["state"] == "closed" else "reopened"
                )
            if "labels" in payload:
                item["labels"] = [state.label(repo, str(lb)) for lb in payload["labels"]]
            item["updated_at"] = _now()
        return JSONResponse(decorate(request, name, item))

    async def comments(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if (denied := check(request, write)) is not None:
            return denied
        found = find_issue(request)
        if found is None:
            return _error(404, "Not Found")
        name, repo, item = found
        listing = repo.comments.setdefault(item["number"], [])
        if write:
            body = (await request.json()).get("body") or ""
            if not body or len(body) > BODY_LIMIT:
                return _error(422, "Validation Failed")
            ident = state.next_id()
            comment = {
                "id": ident,
                "node_id": f"IC_{ident}",
                "body": body,
                "user": user(request),
                "created_at": _now(),
                "updated_at": _now(),
                "author_association": "NONE",
                "url": f"{base(request)}/repos/{name}/issues/comments/{ident}",
                "html_url": f"https://github.com/{name}/issues/{item['number']}#issuecomment-{ident}",
                "issue_url": f"{base(request)}/repos/{name}/issues/{item['number']}",
            }
            listing.append(comment)
            item["comments"] = len(listing)
            return JSONResponse(comment, status_code=201)
        return JSONResponse(listing)

    async def repository(request: Request) -> JSONResponse:
        if (denied := check(request)) is not None:
            return denied
        found = repo_of(request)
        if found is None:
            return _error(404, "Not Found")
        name = found[0]
        return JSONResponse(
            {
                "id": zlib.crc32(name.encode()),
                "node_id": f"R_{name}",
                "name": name.split("/")[1],
                "full_name": name,
                "private": False,
                "owner": user(request),
                "html_url": f"https://github.com/{name}",
                "url": f"{base(request)}/repos/{name}",
                "default_branch": "main",
                "has_issues": True,
            }
        )

    return Router(
        routes=[
            Route("/repos/{owner}/{repo}", repository),
            Route("/repos/{owner}/{repo}/contents/{path:path}", contents),
            Route("/repos/{owner}/{repo}/issues", issues, methods=["GET", "POST"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}", issue, methods=["GET", "PATCH"]),
            Route("/repos/{owner}/{repo}/issues/{number:int}/comments", comments, methods=["GET", "POST"]),
        ]
    )
