"""coe-prep's markdown target: the COE as a file in a draft pull request, exactly once.

The pull request is found by its branch, which is named by the incident id; the commit by the
marker in the file on that branch. Both are looked for before anything is written (the shared
`propose_file` step), so reruns, lost answers and a crash between the commit and the pull
request end with one branch, one commit and one pull request. The file's name comes from the
title, which people may edit: a rerun that finds the branch without a pull request looks for
the file by its marker among that day's files first, so an edited title makes no second file.
"""

from __future__ import annotations

import posixpath

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients.github import GitHubClient, PullRef
from oncall.coe import TEMPLATE, check_template
from oncall.coe_markdown import (
    branch_name,
    coe_day,
    coe_marker,
    coe_paths,
    commit_message,
    postmortem_dir,
    postmortem_repo,
    pull_body,
    pull_title,
    render_markdown,
)
from oncall.errors import InputError
from oncall.models import Incident
from oncall.settings import Settings
from tasks.clients import clients
from tasks.coe import CoeDocument
from tasks.pull_requests import DraftFile, Withheld, propose_file

MAX_SAME_DAY = 20  # files of the incident's day read back when looking for the marker


def coe_markdown_text(incident_id: str, values: dict[str, str]) -> str:
    """The file's text: the template filled with the values escaped for markdown."""
    return render_markdown(TEMPLATE.read_text(encoding="utf-8"), values, coe_marker(incident_id))


def _committed_path(
    gh: GitHubClient, repo: str, branch: str, folder: str, day: str, marker: str
) -> str | None:
    """Where an earlier run committed the file on `branch`, found by its marker among the
    incident day's files, when the branch exists (a crash before the pull request)."""
    if gh.branch_sha(repo, branch) is None:
        return None
    prefix = posixpath.join(folder, f"{day}-")
    same_day = [
        p
        for p in gh.tree(repo, branch)
        if p.startswith(prefix) and p.endswith(".md") and "/" not in p[len(prefix) :]
    ]
    for path in same_day[:MAX_SAME_DAY]:
        found = gh.file(repo, path, branch)
        if found is not None and marker in found[0]:
            return path
    return None


def _draft(
    repo: str, branch: str, path: str, incident_id: str, name: str, values: dict[str, str]
) -> DraftFile:
    return DraftFile(
        repo=repo,
        base=None,
        branch=branch,
        path=path,
        marker=coe_marker(incident_id),
        commit_message=commit_message(incident_id),
        title=pull_title(name),
        body=pull_body(values, path),
        new_file=True,
        what="COE",
    )


def _open(
    gh: GitHubClient,
    repo: str,
    incident: Incident,
    tz: str,
    folder: str,
    name: str,
    values: dict[str, str],
    text: str,
) -> PullRef:
    """Branch, commit and pull request, each found before it is written."""
    branch, marker = branch_name(incident.id), coe_marker(incident.id)
    known = _committed_path(gh, repo, branch, folder, coe_day(incident, tz), marker)
    paths = [known] if known else list(coe_paths(folder, incident, tz))
    for path in paths:
        made = propose_file(
            gh,
            _draft(repo, branch, path, incident.id, name, values),
            lambda now, _base: text if now is None else None,
        )
        if not isinstance(made, Withheld):
            return made
        get_run_logger().info("%s is %s of %s already, and is not this incident's COE", path, made, repo)
    raise InputError(
        f"{' and '.join(paths)} exist in {repo} without the COE of incident {incident.id}: "
        f"move them, or delete the branch {branch} if a person pushed to it, and rerun coe-prep"
    )


@task(cache_policy=NO_CACHE)
def open_coe_pull_request(
    settings: Settings, incident: Incident, name: str, values: dict[str, str]
) -> CoeDocument:
    """Find the incident's COE pull request, or commit the filled template as markdown on the
    incident's branch and open it as a draft. One that exists, open, merged or closed, is the
    COE: it is never written again, since people edit it."""
    repo = postmortem_repo(settings)
    branch = branch_name(incident.id)
    text = coe_markdown_text(incident.id, values)
    with clients(settings) as run:
        gh = run.github()
        pull = gh.find_pull(repo, branch)
        created = pull is None
        if pull is None:
            folder = postmortem_dir(settings)
            pull = _open(gh, repo, incident, settings.team_timezone, folder, name, values, text)
    get_run_logger().info(
        "%s COE pull request %s for %s", "Opened" if created else "Found", pull.html_url, incident.id
    )
    return CoeDocument(
        id=f"{repo}#{pull.number}",
        name=name,
        link=pull.html_url,
        created=created,
        text=text,
        unknown=check_template(TEMPLATE.read_text(encoding="utf-8")).unknown,
    )
