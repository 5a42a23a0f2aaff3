"""The fake GitHub's git side: trees, branches and refs, contents (read and PUT), pull requests.

What runbook reading and runbook pull requests call through PyGithub 2.10, served as GitHub does:
- Files live in `GitHubRepo.files` as "path@branch" -> text, as the sandbox seeds them; a
  branch is every ref some file names, plus those created empty-handed by `POST git/refs`. A
  commit's sha is derived from its branch's files, so a new branch has its source's sha (as in
  git) and every contents PUT moves it.
- `GET git/trees/{sha_or_ref}` answers a branch name, a commit sha or a root tree sha;
  `recursive` (any value, as GitHub reads it) lists every blob and tree under the root, and past
  `tree_limit` entries the listing is cut with `"truncated": true` (GitHub's 100,000).
- `GET contents/{path}`: a file with its blob `sha`; a folder as a list of its entries; a
  missing ref is 404 "No commit found for the ref X". A file over 1 MB comes with `"encoding":
  "none"` and no content (its blob, `GET git/blobs/{sha}`, has it); a folder lists at most 1,000
  entries. `PUT contents/{path}` creates without a
  sha (201) and updates only with the current blob sha (200): none is 422 `"sha" wasn't
  supplied.`, a stale one 409 "<path> does not match <sha>"; an unknown branch 404.
- `POST git/refs`: 201, or 422 "Reference already exists" / "Object does not exist".
- `POST pulls`: 201; 422 "A pull request already exists for owner:branch." while one is open
  for the same head and base, "No commits between" when head is base, `head`/`base` invalid
  when the branch is missing. Pull requests share the issues' numbers and appear in the issue
  listing with a `pull_request` key, as on GitHub. `GET pulls/{number}` is the full pull request
  (`merged`, `mergeable`, the counts); the listing's items are GitHub's "simple" ones, without
  those, so `merged_at` is how a listing says a pull request was merged. `merge_pull` plays a
  merge on github.com: the head's files land on the base, the pull request closes with
  `merged_at` set.
- Refs and contents need push access; without it GitHub answers 404 "Not Found" (it hides what
  a token may not write). Opening a pull request needs only read access.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import Route

from oncall.sandbox.github_fake import (
    GitHubAccount,
    GitHubRepo,
    GitHubState,
    _error,
    _invalid,
    _now,
    _too_long,
)
from oncall.sandbox.responses import JSONResponse

CONTENTS_LIMIT = 1024 * 1024  # bytes: a larger file's contents answer carries no content
FOLDER_LIMIT = 1_000  # entries of a folder the contents API lists; the tree has them all
FILE_MODE, TREE_MODE = "100644", "040000"


@dataclass(frozen=True)
class FakeEdge:
    """The fake's shared steps, handed over by `build_github_app`."""

    check: Callable[..., GitHubAccount | JSONResponse]
    repo_of: Callable[[Request], tuple[str, GitHubRepo] | None]
    user: Callable[[Request, str], dict[str, Any]]
    base: Callable[[Request], str]
    paged: Callable[..., JSONResponse]
    issue_json: Callable[[Request, str, dict[str, Any]], dict[str, Any]]


def blob_sha(text: str) -> str:
    raw = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()


def _digest(kind: str, parts: list[str]) -> str:
    return hashlib.sha1("\0".join([kind, *parts]).encode(), usedforsecurity=False).hexdigest()


def merge_pull(state: GitHubState, name: str, number: int) -> None:
    """A person merges pull request `number`: its head's files become the base's, and it closes
    merged (as the merge button does; the head branch stays)."""
    repo = state.repo(name)
    [item] = [i for i in repo.issues if i["number"] == number and "_pr" in i]
    pr = item["_pr"]
    for path, text in branch_files(repo, pr["head"]).items():
        repo.files[f"{path}@{pr['base']}"] = text
    item.update(state="closed", closed_at=_now(), updated_at=_now())
    pr["merged_at"] = item["closed_at"]


# Fields of the full pull request (GET pulls/{number}, a create's answer) that GitHub's listing
# items ("pull-request-simple") do not carry.
FULL_ONLY = frozenset(
    {
        "merged",
        "mergeable",
        "rebaseable",
        "mergeable_state",
        "merged_by",
        "comments",
        "review_comments",
        "maintainer_can_modify",
        "commits",
        "additions",
        "deletions",
        "changed_files",
    }
)


def branches(repo: GitHubRepo) -> set[str]:
    return {key.rsplit("@", 1)[1] for key in repo.files} | repo.branches


def branch_files(repo: GitHubRepo, branch: str) -> dict[str, str]:
    suffix = f"@{branch}"
    return {key[: -len(suffix)]: text for key, text in repo.files.items() if key.endswith(suffix)}


def tree_sha(files: dict[str, str], prefix: str = "") -> str:
    inside = sorted(p for p in files if not prefix or p.startswith(f"{prefix}/"))
    return _digest("tree", [f"{p}:{blob_sha(files[p])}" for p in inside])


def commit_sha(files: dict[str, str]) -> str:
    return _digest("commit", [tree_sha(files)])


def _folders(paths: list[str]) -> set[str]:
    return {p.rsplit("/", n)[0] for p in paths for n in range(1, p.count("/") + 1)}


def resolve(repo: GitHubRepo, sha_or_ref: str) -> str | None:
    """The branch a name, `heads/` name, commit sha or root tree sha stands for."""
    name = sha_or_ref.removeprefix("refs/").removeprefix("heads/")
    known = branches(repo)
    if name in known:
        return name
    for branch in sorted(known):
        files = branch_files(repo, branch)
        if sha_or_ref in (commit_sha(files), tree_sha(files)):
            return branch
    return None


def git_routes(state: GitHubState, edge: FakeEdge) -> list[Route]:
    def api(request: Request, name: str) -> str:
        return f"{edge.base(request)}/repos/{name}"

    def content_json(request: Request, name: str, path: str, ref: str, text: str | None) -> dict[str, Any]:
        """A file (with its base64 `content` when `text` is given) or, for `text` None, a folder."""
        url = f"{api(request, name)}/contents/{path}?ref={ref}"
        kind = "file" if text is not None else "dir"
        html = f"{edge.base(request)}/{name}/{'blob' if text is not None else 'tree'}/{ref}/{path}"
        branch = resolve(state.repo(name), ref) or ref  # `ref` may be a commit sha
        sha = blob_sha(text) if text is not None else tree_sha(branch_files(state.repo(name), branch), path)
        git = f"{api(request, name)}/git/{'blobs' if text is not None else 'trees'}/{sha}"
        return {
            "type": kind,
            "size": len(text.encode()) if text is not None else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git,
            "html_url": html,
            "download_url": f"{edge.base(request)}/raw/{name}/{ref}/{path}" if text is not None else None,
            "_links": {"self": url, "git": git, "html": html},
        }

    def commit_json(
        request: Request, name: str, files: dict[str, str], parent: str, message: str
    ) -> dict[str, Any]:
        sha = commit_sha(files)
        who = {"name": state.login, "email": f"{state.login}@users.noreply.github.com", "date": _now()}
        return {
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "url": f"{api(request, name)}/git/commits/{sha}",
            "html_url": f"{edge.base(request)}/{name}/commit/{sha}",
            "author": who,
            "committer": who,
            "message": message,
            "tree": {"sha": tree_sha(files), "url": f"{api(request, name)}/git/trees/{tree_sha(files)}"},
            "parents": [
                {
                    "sha": parent,
                    "url": f"{api(request, name)}/git/commits/{parent}",
                    "html_url": f"{edge.base(request)}/{name}/commit/{parent}",
                }
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def ref_json(request: Request, name: str, branch: str) -> dict[str, Any]:
        sha = commit_sha(branch_files(state.repo(name), branch))
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{branch}",
            "url": f"{api(request, name)}/git/refs/heads/{branch}",
            "object": {"type": "commit", "sha": sha, "url": f"{api(request, name)}/git/commits/{sha}"},
        }

    def reader(
        request: Request, write: bool = False, push: bool = False
    ) -> tuple[GitHubAccount, str, GitHubRepo] | JSONResponse:
        """The caller and repository, or GitHub's refusal; `push` writes hide the repository
        (404) from a token without push access."""
        if isinstance(who := edge.check(request, write), JSONResponse):
            return who
        found = edge.repo_of(request)
        if found is None or (push and not who.push):
            return _error(404, "Not Found")
        return who, found[0], found[1]

    async def tree(request: Request) -> JSONResponse:
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        branch = resolve(repo, request.path_params["sha"])
        if branch is None:
            return _error(404, "Not Found")
        files = branch_files(repo, branch)
        recursive = "recursive" in request.query_params
        paths = sorted(files) if recursive else sorted(p for p in files if "/" not in p)
        folders = _folders(list(files)) if recursive else {p.split("/", 1)[0] for p in files if "/" in p}
        entries: list[dict[str, Any]] = []
        for path in sorted([*paths, *folders]):
            if path in folders:
                sha = tree_sha(files, path)
                entries.append(
                    {
                        "path": path,
                        "mode": TREE_MODE,
                        "type": "tree",
                        "sha": sha,
                        "url": f"{api(request, name)}/git/trees/{sha}",
                    }
                )
            else:
                sha = blob_sha(files[path])
                entries.append(
                    {
                        "path": path,
                        "mode": FILE_MODE,
                        "type": "blob",
                        "sha": sha,
                        "size": len(files[path].encode()),
                        "url": f"{api(request, name)}/git/blobs/{sha}",
                    }
                )
        root = tree_sha(files)
        return JSONResponse(
            {
                "sha": root,
                "url": f"{api(request, name)}/git/trees/{root}",
                "tree": entries[: state.tree_limit],
                "truncated": len(entries) > state.tree_limit,
            }
        )

    async def branch(request: Request) -> JSONResponse:
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        wanted = request.path_params["branch"]
        if wanted not in branches(repo):
            return _error(404, "Branch not found")
        files = branch_files(repo, wanted)
        sha = commit_sha(files)
        commit = commit_json(request, name, files, sha, "")
        return JSONResponse(
            {
                "name": wanted,
                "commit": {
                    "sha": sha,
                    "node_id": commit["node_id"],
                    "url": f"{api(request, name)}/commits/{sha}",
                    "html_url": commit["html_url"],
                    "comments_url": f"{api(request, name)}/commits/{sha}/comments",
                    "commit": {
                        "url": commit["url"],
                        "author": commit["author"],
                        "committer": commit["committer"],
                        "message": "",
                        "comment_count": 0,
                        "tree": commit["tree"],
                    },
                    "author": edge.user(request, state.login),
                    "committer": edge.user(request, state.login),
                    "parents": [],
                },
                "_links": {
                    "self": f"{api(request, name)}/branches/{wanted}",
                    "html": f"{edge.base(request)}/{name}/tree/{wanted}",
                },
                "protected": False,
                "protection": {
                    "enabled": False,
                    "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
                },
                "protection_url": f"{api(request, name)}/branches/{wanted}/protection",
            }
        )

    async def get_ref(request: Request) -> JSONResponse:
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        ref = request.path_params["ref"]
        wanted = ref.removeprefix("heads/")
        if not ref.startswith("heads/") or wanted not in branches(repo):
            return _error(404, "Not Found")
        return JSONResponse(ref_json(request, name, wanted))

    async def create_ref(request: Request) -> JSONResponse:
        if isinstance(found := reader(request, write=True, push=True), JSONResponse):
            return found
        _, name, repo = found
        payload = await request.json()
        ref, sha = str(payload.get("ref") or ""), str(payload.get("sha") or "")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return _error(422, "Reference name is invalid")  # the docs: refs/... with two slashes
        wanted = ref.removeprefix("refs/heads/")
        if wanted in branches(repo):
            return _error(422, "Reference already exists")
        source = next((b for b in sorted(branches(repo)) if commit_sha(branch_files(repo, b)) == sha), None)
        if source is None:
            return _error(422, "Object does not exist")
        for path, text in branch_files(repo, source).items():
            repo.files[f"{path}@{wanted}"] = text
        repo.branches.add(wanted)
        return JSONResponse(ref_json(request, name, wanted), status_code=201)

    async def contents(request: Request) -> JSONResponse:
        if request.method == "PUT":
            return await put_contents(request)
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        path = request.path_params["path"].strip("/")
        ref = request.query_params.get("ref") or repo.default_branch
        branch = resolve(repo, ref)
        if branch is None:
            return _error(404, f"No commit found for the ref {ref}")
        if state.contents_latency:
            state.contents_in_flight += 1
            state.contents_peak = max(state.contents_peak, state.contents_in_flight)
            try:
                await asyncio.sleep(state.contents_latency)
            finally:
                state.contents_in_flight -= 1
        files = branch_files(repo, branch)
        if path in files:
            item = content_json(request, name, path, ref, files[path])
            if item["size"] > CONTENTS_LIMIT:  # only the raw media type or the blob carries it
                return JSONResponse({**item, "encoding": "none", "content": ""})
            return JSONResponse(
                {**item, "encoding": "base64", "content": base64.encodebytes(files[path].encode()).decode()}
            )
        inside = sorted(p for p in files if not path or p.startswith(f"{path}/"))
        if not inside:
            return _error(404, "Not Found")
        depth = path.count("/") + 1 if path else 0
        children = sorted({"/".join(p.split("/")[: depth + 1]) for p in inside})
        listed = children[:FOLDER_LIMIT]
        return JSONResponse([content_json(request, name, c, ref, files.get(c)) for c in listed])

    async def blob(request: Request) -> JSONResponse:
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        sha = request.path_params["sha"]
        text = next((t for t in repo.files.values() if blob_sha(t) == sha), None)
        if text is None:
            return _error(404, "Not Found")
        raw = text.encode()
        return JSONResponse(
            {
                "sha": sha,
                "node_id": f"B_{sha[:12]}",
                "size": len(raw),
                "url": f"{api(request, name)}/git/blobs/{sha}",
                "content": base64.encodebytes(raw).decode(),
                "encoding": "base64",
            }
        )

    async def put_contents(request: Request) -> JSONResponse:
        if isinstance(found := reader(request, write=True, push=True), JSONResponse):
            return found
        _, name, repo = found
        path = request.path_params["path"].strip("/")
        payload = await request.json()
        for needed in ("message", "content"):
            if not isinstance(payload.get(needed), str):
                return _error(422, f'Invalid request.\n\n"{needed}" wasn\'t supplied.')
        branch_name = payload.get("branch") or repo.default_branch
        if branch_name not in branches(repo):
            return _error(404, f"Branch {branch_name} not found")
        try:
            text = base64.b64decode(payload["content"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _error(422, "content is not valid Base64")
        key = f"{path}@{branch_name}"
        before = branch_files(repo, branch_name)
        if key in repo.files:
            sha = payload.get("sha")
            if not sha:
                return _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if sha != blob_sha(repo.files[key]):
                return _error(409, f"{path} does not match {sha}")
        created = key not in repo.files
        repo.files[key] = text
        files = branch_files(repo, branch_name)
        return JSONResponse(
            {
                "content": content_json(request, name, path, branch_name, text),
                "commit": commit_json(request, name, files, commit_sha(before), str(payload["message"])),
            },
            status_code=201 if created else 200,
        )

    def pull_json(request: Request, name: str, item: dict[str, Any]) -> dict[str, Any]:
        repo = state.repo(name)
        pr = item["_pr"]
        issue = edge.issue_json(request, name, item)
        url = f"{api(request, name)}/pulls/{item['number']}"
        owner = name.split("/")[0]

        def part(branch_name: str) -> dict[str, Any]:
            return {
                "label": f"{owner}:{branch_name}",
                "ref": branch_name,
                "sha": commit_sha(branch_files(repo, branch_name)),
                "user": edge.user(request, owner),
                "repo": repository_json(request, name),
            }

        html = f"{edge.base(request)}/{name}/pull/{item['number']}"
        return {
            **{
                k: issue[k] for k in ("id", "node_id", "number", "state", "locked", "title", "body", "labels")
            },
            **{
                k: issue[k]
                for k in ("milestone", "active_lock_reason", "created_at", "updated_at", "closed_at")
            },
            **{k: issue[k] for k in ("assignee", "assignees", "user", "author_association")},
            "url": url,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue["url"],
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api(request, name)}/pulls/comments{{/number}}",
            "comments_url": issue["comments_url"],
            "statuses_url": f"{api(request, name)}/statuses/{part(pr['head'])['sha']}",
            "merged_at": pr.get("merged_at"),
            "merge_commit_sha": commit_sha(branch_files(repo, pr["base"])) if pr.get("merged_at") else None,
            "requested_reviewers": [],
            "requested_teams": [],
            "head": part(pr["head"]),
            "base": part(pr["base"]),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue["url"]},
                "comments": {"href": issue["comments_url"]},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{api(request, name)}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{api(request, name)}/statuses/{part(pr['head'])['sha']}"},
            },
            "auto_merge": None,
            "draft": pr["draft"],
            "merged": pr.get("merged_at") is not None,
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "comments": issue["comments"],
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 1,
        }

    def repository_json(request: Request, name: str) -> dict[str, Any]:
        return edge_repository(request, name)

    edge_repository = repository_builder(state, edge)

    async def pulls(request: Request) -> JSONResponse:
        write = request.method == "POST"
        if isinstance(found := reader(request, write), JSONResponse):
            return found
        who, name, repo = found
        owner = name.split("/")[0]
        prs = [i for i in repo.issues if "_pr" in i]
        if not write:
            wanted_state = request.query_params.get("state", "open")
            head = request.query_params.get("head")
            base_branch = request.query_params.get("base")
            matching = [
                i
                for i in prs
                if (wanted_state == "all" or i["state"] == wanted_state)
                and (head is None or f"{owner}:{i['_pr']['head']}" == head)
                and (base_branch is None or i["_pr"]["base"] == base_branch)
            ]
            matching.sort(
                key=lambda i: i["number"], reverse=request.query_params.get("direction", "desc") == "desc"
            )
            return edge.paged(
                request,
                f"/repos/{name}/pulls",
                matching,
                lambda i: {k: v for k, v in pull_json(request, name, i).items() if k not in FULL_ONLY},
            )
        payload = await request.json()
        if not payload.get("title"):
            return _invalid("PullRequest", "title", "missing_field")
        if (refused := _too_long("PullRequest", payload)) is not None:
            return refused
        head_owner, _, head = str(payload.get("head") or "").rpartition(":")
        base_branch = str(payload.get("base") or "")
        known = branches(repo)
        if base_branch not in known:
            return _invalid("PullRequest", "base", "invalid")
        if head not in known or head_owner not in ("", owner):
            return _invalid("PullRequest", "head", "invalid")
        if any(
            i["state"] == "open" and i["_pr"]["head"] == head and i["_pr"]["base"] == base_branch for i in prs
        ):
            return _custom(f"A pull request already exists for {owner}:{head}.")
        if commit_sha(branch_files(repo, head)) == commit_sha(branch_files(repo, base_branch)):
            return _custom(f"No commits between {base_branch} and {head}")
        item = state.new_issue(name, payload["title"], payload.get("body") or "", [], creator=who.login)
        item["_pr"] = {"head": head, "base": base_branch, "draft": bool(payload.get("draft"))}
        return JSONResponse(pull_json(request, name, item), status_code=201)

    async def one_pull(request: Request) -> JSONResponse:
        if isinstance(found := reader(request), JSONResponse):
            return found
        _, name, repo = found
        number = request.path_params["number"]
        item = next((i for i in repo.issues if str(i["number"]) == number and "_pr" in i), None)
        if item is None:
            return _error(404, "Not Found")
        return JSONResponse(pull_json(request, name, item))

    return [
        Route("/repos/{owner}/{repo}/pulls/{number}", one_pull),
        Route("/repos/{owner}/{repo}/git/trees/{sha:path}", tree),
        Route("/repos/{owner}/{repo}/git/blobs/{sha}", blob),
        Route("/repos/{owner}/{repo}/git/ref/{ref:path}", get_ref),
        Route("/repos/{owner}/{repo}/git/refs", create_ref, methods=["POST"]),
        Route("/repos/{owner}/{repo}/branches/{branch:path}", branch),
        Route("/repos/{owner}/{repo}/contents/{path:path}", contents, methods=["GET", "PUT"]),
        Route("/repos/{owner}/{repo}/pulls", pulls, methods=["GET", "POST"]),
    ]


def _custom(message: str) -> JSONResponse:
    return _error(
        422, "Validation Failed", errors=[{"resource": "PullRequest", "code": "custom", "message": message}]
    )


_TEMPLATED = (
    "archive_url:/{archive_format}{/ref}",
    "assignees_url:/assignees{/user}",
    "blobs_url:/git/blobs{/sha}",
    "branches_url:/branches{/branch}",
    "collaborators_url:/collaborators{/collaborator}",
    "comments_url:/comments{/number}",
    "commits_url:/commits{/sha}",
    "compare_url:/compare/{base}...{head}",
    "contents_url:/contents/{+path}",
    "contributors_url:/contributors",
    "deployments_url:/deployments",
    "downloads_url:/downloads",
    "events_url:/events",
    "forks_url:/forks",
    "git_commits_url:/git/commits{/sha}",
    "git_refs_url:/git/refs{/sha}",
    "git_tags_url:/git/tags{/sha}",
    "issue_comment_url:/issues/comments{/number}",
    "issue_events_url:/issues/events{/number}",
    "issues_url:/issues{/number}",
    "keys_url:/keys{/key_id}",
    "labels_url:/labels{/name}",
    "languages_url:/languages",
    "merges_url:/merges",
    "milestones_url:/milestones{/number}",
    "notifications_url:/notifications{?since,all,participating}",
    "pulls_url:/pulls{/number}",
    "releases_url:/releases{/id}",
    "stargazers_url:/stargazers",
    "statuses_url:/statuses/{sha}",
    "subscribers_url:/subscribers",
    "subscription_url:/subscription",
    "tags_url:/tags",
    "teams_url:/teams",
    "trees_url:/git/trees{/sha}",
    "hooks_url:/hooks",
)


def repository_builder(state: GitHubState, edge: FakeEdge) -> Callable[..., dict[str, Any]]:
    """The repository object GitHub serves (`GET /repos/o/r`, and inside pull requests)."""

    def build(request: Request, name: str, permissions: dict[str, bool] | None = None) -> dict[str, Any]:
        api = f"{edge.base(request)}/repos/{name}"
        web = edge.base(request)  # the fake's own pages, as a GitHub Enterprise host's: never github.com
        where = urlsplit(web)
        open_issues = sum(1 for i in state.repo(name).issues if i["state"] == "open")
        out: dict[str, Any] = {
            "id": zlib.crc32(name.encode()),
            "node_id": f"R_{name}",
            "name": name.split("/")[1],
            "full_name": name,
            "private": False,
            "owner": edge.user(request, name.split("/")[0]),
            "html_url": f"{web}/{name}",
            "description": None,
            "fork": False,
            "url": api,
            **{key: f"{api}{tail}" for key, _, tail in (t.partition(":") for t in _TEMPLATED)},
            "git_url": f"git://{where.netloc}{where.path}/{name}.git",
            "ssh_url": f"git@{where.hostname}:{name}.git",
            "clone_url": f"{web}/{name}.git",
            "svn_url": f"{web}/{name}",
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "license": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": state.repo(name).default_branch,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "has_issues": True,
            "has_pages": False,
            "disabled": False,
            "archived": False,
            "pushed_at": _now(),
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": _now(),
        }
        if permissions is not None:  # the full repository, as `GET /repos/o/r` serves it
            out |= {
                "permissions": permissions,
                "has_projects": False,
                "has_wiki": False,
                "has_discussions": False,
                "subscribers_count": 0,
                "network_count": 0,
            }
        return out

    return build
