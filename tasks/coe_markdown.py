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
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients.github import SETTING, GitHubClient, PullRef
from oncall.clients.google import DocumentRead
from oncall.coe import TEMPLATE, check_template
from oncall.coe_action_filing import LinkBack
from oncall.coe_markdown import (
    BRANCH_PREFIX,
    body_path,
    body_priority,
    branch_marker,
    branch_name,
    coe_day,
    coe_marker,
    coe_paths,
    commit_message,
    file_blocks,
    file_on_call,
    link_cells,
    links_message,
    postmortem_dir,
    postmortem_repo,
    pull_body,
    pull_title,
    render_markdown,
    title_day,
)
from oncall.coe_review import CoeEntry, PullLink, pull_status
from oncall.errors import InputError, OutsideError, RejectedError
from oncall.models import Frozen, Incident, Priority
from oncall.settings import Settings
from tasks.clients import clients
from tasks.coe import CoeDocument
from tasks.coe_review import linked
from tasks.pull_requests import DraftFile, Withheld, propose_file
from tasks.retry import outage_only

MAX_SAME_DAY = 20  # files of the incident's day read back when looking for the marker


def coe_markdown_text(
    incident_id: str, values: dict[str, str], tables: Mapping[str, Sequence[Sequence[str]]]
) -> str:
    """The file's text: the template filled with the values escaped for markdown, `tables` as tables."""
    return render_markdown(TEMPLATE.read_text(encoding="utf-8"), values, coe_marker(incident_id), tables)


def _committed_path(
    gh: GitHubClient, repo: str, branch: str, folder: str, day: str, marker: str
) -> str | None:
    """Where an earlier run committed the file on `branch`, found by its marker among the
    incident day's files, when the branch exists (a crash before the pull request)."""
    if gh.branch_sha(repo, branch) is None:
        return None
    found = _marked_file(gh, repo, branch, folder, day, (marker,))
    return found[0] if found else None


def _marked_file(
    gh: GitHubClient, repo: str, ref: str, folder: str, day: str | None, markers: tuple[str, ...]
) -> tuple[str, tuple[str, str]] | None:
    """The file at `ref` holding one of `markers`, its path and (text, blob sha), looked for among
    the day's files (every COE file of the folder when the day is not known): one tree listing,
    then at most MAX_SAME_DAY reads."""
    prefix = posixpath.join(folder, f"{day}-" if day else "")
    same_day = [
        p
        for p in gh.tree(repo, ref)
        if p.startswith(prefix) and p.endswith(".md") and "/" not in p[len(prefix) :]
    ]
    for path in same_day[:MAX_SAME_DAY]:
        found = gh.file(repo, path, ref)
        if found is not None and any(m in found[0] for m in markers):
            return path, found
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
    settings: Settings,
    incident: Incident,
    name: str,
    values: dict[str, str],
    tables: dict[str, list[tuple[str, ...]]],
) -> CoeDocument:
    """Find the incident's COE pull request, or commit the filled template as markdown on the
    incident's branch and open it as a draft. One that exists, open, merged or closed, is the
    COE: it is never written again, since people edit it."""
    repo = postmortem_repo(settings)
    branch = branch_name(incident.id)
    text = coe_markdown_text(incident.id, values, tables)
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


# -- coe-review: the COEs kept as markdown, read back, and their issue links written in --------


class CoeFile(Frozen):
    """A COE's file as coe-review read it: from the pull request's branch while it is open, from
    its base once merged; `sha` is the blob read, which the write-back must name (the lock)."""

    repo: str
    path: str
    ref: str
    sha: str
    text: str
    pull: PullRef

    @property
    def identity(self) -> str:
        """What its action issues' markers name: the repository and the branch, which the incident
        id names; an edit, a renamed file or the merge leaves it."""
        return f"{self.repo}:{self.pull.head}"

    def document(self) -> DocumentRead:
        return DocumentRead(
            id=self.identity, title=self.path, revision_id=self.sha, blocks=file_blocks(self.text)
        )


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def coe_pulls(settings: Settings) -> tuple[list[CoeEntry], dict[str, PullRef]]:
    """Without a tracker, the COEs are the pull requests from coe-prep's branches: one listing of
    the postmortem repository's pull requests, open and closed. The status is the pull request's
    (draft: Draft, ready: In review, merged: Done); one closed without merging was withdrawn, and
    is left out until it is reopened. Each entry's pull request comes along, by incident id, so
    its file is read without looking the pull request up again."""
    repo = postmortem_repo(settings)
    with clients(settings) as run:
        pulls = run.github().pulls(repo)
    log = get_run_logger()
    entries, known = [], {}
    for pull in pulls:
        if not pull.head.startswith(BRANCH_PREFIX):
            continue
        status = pull_status(pull.state, pull.draft, pull.merged)
        if status is None:
            log.info(
                "COE pull request %s was closed without merging: not reviewed (reopen it to)", pull.html_url
            )
            continue
        priority = body_priority(pull.body)
        entries.append(
            CoeEntry(
                row=0,
                incident_id=pull.head.removeprefix(BRANCH_PREFIX),
                title=pull.title,
                start=pull.created_at,
                priority=Priority(priority) if priority else None,
                link=pull.html_url,
                doc_id=None,
                on_call="",
                status=status,
                pull=PullLink(repo=repo, number=pull.number),
                tracked=False,
            )
        )
        known[entries[-1].incident_id] = pull
    log.info("%d COE pull request(s) in %s", len(entries), repo)
    return entries, known


def _pull_of(gh: GitHubClient, entry: CoeEntry, link: PullLink) -> PullRef | None:
    """The linked pull request, looked up by the incident's branch as coe-prep finds it (one
    listing by head); by its number only when the link names another (a person linked it)."""
    pull = gh.find_pull(link.repo, branch_name(entry.incident_id))
    if pull is not None and pull.number == link.number:
        return pull
    return gh.pull(link.repo, link.number)


def _read_file(
    gh: GitHubClient, settings: Settings, entry: CoeEntry, pull: PullRef, repo: str
) -> CoeFile | str:
    """The COE's file: at the path the pull request's body names (one read), else found by its
    marker (one tree listing and the day's files); what to fix when it is not there."""
    ref = pull.base if pull.merged else pull.head
    markers = tuple(dict.fromkeys((coe_marker(entry.incident_id), branch_marker(pull.head))))
    path = body_path(pull.body)
    found = gh.file(repo, path, ref) if path else None
    if path is None or found is None or not any(m in found[0] for m in markers):
        day = title_day(pull.title) or (entry.start.date().isoformat() if entry.start else None)
        located = _marked_file(gh, repo, ref, postmortem_dir(settings), day, markers)
        if located is None:
            return (
                f"COE for {entry.incident_id} ({entry.link}): no file marked {markers[0]} on branch {ref} "
                f"of {repo}: restore the COE file there (the pull request's first commit has it)"
                + (f", or link the right pull request in row {entry.row}" if entry.tracked else "")
            )
        path, found = located
    return CoeFile(repo=repo, path=path, ref=ref, sha=found[1], text=found[0], pull=pull)


@task(cache_policy=NO_CACHE)
def read_coe_files(
    settings: Settings, entries: list[CoeEntry], known: dict[str, PullRef] | None = None
) -> tuple[dict[str, CoeFile], dict[str, str]]:
    """Each markdown COE's file, by incident id, and for the others what to fix: per COE one
    look-up of its pull request and one read of its file (a tree listing more when the file is
    not where the pull request says; `known`: pull requests listed already, not looked up again).
    A COE that cannot be read is a problem, never a failed run."""
    read: dict[str, CoeFile] = {}
    problems: dict[str, str] = {}
    if not entries:
        return read, problems
    with clients(settings) as run:
        gh = run.github()

        def one(entry: CoeEntry) -> tuple[CoeEntry, CoeFile | str]:
            link = entry.pull
            assert link is not None
            try:
                pull = (known or {}).get(entry.incident_id) or _pull_of(gh, entry, link)
                if pull is None:
                    return entry, (
                        f"COE for {entry.incident_id} ({entry.link}): pull request #{link.number} does not "
                        f"exist in {link.repo}, or {SETTING} cannot see it: put the COE's pull request "
                        f"link in row {entry.row}"
                    )
                return entry, _read_file(gh, settings, entry, pull, link.repo)
            except OutsideError as exc:  # deleted, hidden or down: the others go on
                return entry, (
                    f"COE for {entry.incident_id} ({entry.link}): could not be read ({exc}); the next run tries again"
                )

        with ThreadPoolExecutor(max(1, min(settings.max_concurrency, len(entries)))) as pool:
            for entry, got in pool.map(one, entries):
                if isinstance(got, CoeFile):
                    read[entry.incident_id] = got
                else:
                    problems[entry.incident_id] = got
    log = get_run_logger()
    for problem in problems.values():
        log.warning("%s", problem)
    log.info("Read %d markdown COE(s); %d could not be read", len(read), len(problems))
    return read, problems


def file_entry(entry: CoeEntry, file: CoeFile) -> CoeEntry:
    """A tracker-less entry with who presents, from the file's overview."""
    if entry.tracked or entry.on_call:
        return entry
    return entry.model_copy(update={"on_call": file_on_call(file.text)})


@task(cache_policy=NO_CACHE)
def write_file_links(settings: Settings, file: CoeFile, back: LinkBack) -> int:
    """One COE's issue links in its file's corrective-actions table: one commit on the pull
    request's branch, from the blob the run read. GitHub refuses it (409) when the file changed
    since: a person's edit wins, and the next run reads it again and links then. A merged COE's
    file is on the base branch, which is not ours to commit to: its issues show the links."""
    log = get_run_logger()
    if file.pull.state != "open":
        log.info(
            "COE %s is merged: its %d corrective-action issue(s) link the COE, and are not written into %s",
            file.pull.html_url,
            len(back.links),
            file.path,
        )
        return 0
    try:
        text = link_cells(file.text, back.links)
    except ValueError as exc:  # cannot happen for the text read; if it does, write nothing
        log.warning("COE file %s: its issue links are not written (%s); link them by hand", file.path, exc)
        return 0
    with clients(settings) as run:
        gh = run.github()
        return linked(
            f"COE file {file.path}",
            len(back.links),
            lambda: gh.put_file(
                file.repo, file.path, file.pull.head, links_message(len(back.links)), text, file.sha
            ),
            lambda exc: isinstance(exc, RejectedError) and exc.status == 409,  # GitHub's lock: the blob moved
        )
