"""Draft pull requests that propose one file each: runbook-gaps' entry per new gap, and
coe-prep's markdown COE. Each write is found again first.

`propose_file` is the one step both use: the branch is found by its name, the commit by a
marker in the file on that branch, the pull request by its head branch (and, for gaps, the gap
issue's link by its comment marker). Each step looks before it writes, and a write whose answer
was lost is looked for once more before the task gives up, so a rerun finishes whatever a
crash left.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from pydantic import BaseModel, ConfigDict

from oncall.clients.github import GitHubClient, PullRef
from oncall.errors import InputError, UnavailableError
from oncall.runbook import Layout
from oncall.runbook_pr import PullOutcome, PullPlan, entry_marker, insert_entry, link_comment, link_marker
from oncall.settings import Settings
from tasks.clients import clients


class DraftFile(BaseModel):
    """One file proposed on its own branch through a draft pull request, with every key its
    writes are found again by: the branch by name, the commit by `marker` in the file on that
    branch, the pull request by its head branch."""

    model_config = ConfigDict(frozen=True)

    repo: str
    base: str | None  # the branch to propose into; None, or not a branch: the default branch
    branch: str
    path: str
    marker: str  # in the file's text once the commit is made
    commit_message: str
    title: str
    body: str
    new_file: bool  # the file is added: one on the base without the marker leaves nothing to propose
    what: str  # what is proposed ("runbook", "COE"), for messages


# The file's text on the branch (None: no such file) and the base's name, to the text to
# commit; None when there is nothing to propose (the file is there without our marker).
Edit = Callable[[str | None, str], str | None]


class Withheld(StrEnum):
    """Why no pull request was opened: the file is there already, and not ours."""

    ON_BASE = "on the base branch"  # a person added it there meanwhile: no branch is made
    ON_BRANCH = "on the branch"


def _base(gh: GitHubClient, draft: DraftFile) -> tuple[str, str]:
    """The branch the pull request goes into, and its head sha: `draft.base` when that is a
    branch (the ref a runbook was read at), else the default branch (a tag or a sha takes no
    pull request)."""
    if draft.base:
        sha = gh.branch_sha(draft.repo, draft.base)
        if sha is not None:
            return draft.base, sha
    base = gh.default_branch(draft.repo)
    sha = gh.branch_sha(draft.repo, base)
    if sha is None:
        raise InputError(f"{draft.repo} has no branch {base!r} to open a {draft.what} pull request against")
    return base, sha


def _added_meanwhile(gh: GitHubClient, draft: DraftFile, base: str) -> bool:
    """A new file is on the base branch already, not by us: a person added it since the run
    read what it proposes from, so there is nothing to propose and no branch to make."""
    if not draft.new_file:
        return False
    found = gh.file(draft.repo, draft.path, base)
    return found is not None and draft.marker not in found[0]


def _branch(gh: GitHubClient, draft: DraftFile, sha: str) -> None:
    """The branch, made once: the client counts "Reference already exists" as made."""
    if gh.branch_sha(draft.repo, draft.branch) is None:
        gh.create_branch(draft.repo, draft.branch, sha)


def _marked(found: tuple[str, str] | None, marker: str) -> bool:
    return found is not None and marker in found[0]


def _commit(gh: GitHubClient, draft: DraftFile, base: str, edit: Edit) -> bool:
    """The file on the branch, committed once; False when it is there without our marker (a
    person added it meanwhile), so there is nothing to propose."""
    found = gh.file(draft.repo, draft.path, draft.branch)
    if _marked(found, draft.marker):
        return True
    text = edit(found[0] if found else None, base)
    if text is None:
        return False
    try:
        gh.put_file(
            draft.repo, draft.path, draft.branch, draft.commit_message, text, found[1] if found else None
        )
    except UnavailableError:
        if not _marked(gh.file(draft.repo, draft.path, draft.branch), draft.marker):
            raise
    return True


def _pull(gh: GitHubClient, draft: DraftFile, base: str) -> PullRef:
    """The draft pull request; the client finds one a lost answer or a run beside this one made."""
    return gh.create_pull(draft.repo, draft.title, draft.body, head=draft.branch, base=base, draft=True)


def propose_file(gh: GitHubClient, draft: DraftFile, edit: Edit) -> PullRef | Withheld:
    """Branch, commit and draft pull request for one file, each looked for before it is
    written, so a rerun after a crash or a lost answer anywhere finishes what is missing and
    doubles nothing. The caller looks for the pull request first (`gh.find_pull`): one that
    exists, open or closed, is the answer, and this is not called."""
    base, sha = _base(gh, draft)
    if _added_meanwhile(gh, draft, base):
        return Withheld.ON_BASE
    _branch(gh, draft, sha)
    if not _commit(gh, draft, base, edit):
        return Withheld.ON_BRANCH
    return _pull(gh, draft, base)


def _gap_draft(plan: PullPlan) -> DraftFile:
    return DraftFile(
        repo=plan.repo,
        base=plan.base,
        branch=plan.branch,
        path=plan.path,
        marker=entry_marker(plan.fingerprint),
        commit_message=plan.commit_message,
        title=plan.title,
        body=plan.body,
        new_file=plan.layout is Layout.FILES,
        what="runbook",
    )


def _gap_edit(plan: PullPlan, entry_level: int) -> Edit:
    """A folder runbook gets the entry as a new file; a one-file runbook gets it inserted."""

    def edit(current: str | None, base: str) -> str | None:
        if plan.layout is Layout.FILES:
            return plan.entry if current is None else None
        if current is None:
            raise InputError(f"runbook file {plan.path} is not on branch {base} of {plan.repo}")
        return insert_entry(current, plan, entry_level)

    return edit


def _link(gh: GitHubClient, plan: PullPlan, pull: PullRef) -> None:
    """One comment on the gap issue naming the pull request."""
    repo, number, marker = plan.issue_repo, plan.issue.number, link_marker(plan.fingerprint)
    if any(marker in c for c in gh.comments(repo, number)):
        return
    try:
        gh.comment(repo, number, link_comment(plan, pull.html_url))
    except UnavailableError:
        if not any(marker in c for c in gh.comments(repo, number)):
            raise


@task(cache_policy=NO_CACHE)
def find_gap_pull_requests(settings: Settings, repo: str, branches: list[str]) -> dict[str, PullRef]:
    """The pull requests (open or closed) that exist already, by branch: a gap that has one needs
    no responders' notes read for it, and the task that links it need not look it up again."""
    if not branches:
        return {}
    with clients(settings) as run:
        gh = run.github()
        found = {b: pull for b in dict.fromkeys(branches) if (pull := gh.find_pull(repo, b)) is not None}
    get_run_logger().info(
        "%d of %d gap(s) have a runbook pull request in %s already", len(found), len(set(branches)), repo
    )
    return found


@task(cache_policy=NO_CACHE)
def open_gap_pull_request(
    settings: Settings, plan: PullPlan, entry_level: int, may_open: bool = True, found: PullRef | None = None
) -> PullOutcome:
    """Open (or find) the draft pull request that adds one gap's entry, and link it from the gap
    issue. Nothing is proposed when the file already exists without the entry it would add;
    without `may_open` (the run's cap is spent) one that exists is still found and linked.
    `found`: the pull request `find_gap_pull_requests` saw for this branch, if any."""
    log = get_run_logger()
    opened = False
    with clients(settings) as run:
        gh = run.github()
        pull = found or gh.find_pull(plan.repo, plan.branch)
        if pull is None and not may_open:
            return PullOutcome(kind=plan.kind, html_url=None, opened=False, held=True)
        if pull is None:
            made = propose_file(gh, _gap_draft(plan), _gap_edit(plan, entry_level))
            if isinstance(made, Withheld):
                log.info(
                    "Not opening a pull request for %r: %s exists %s already", plan.kind, plan.path, made
                )
                return PullOutcome(kind=plan.kind, html_url=None, opened=False)
            pull, opened = made, True
            log.info("Opened draft pull request %s for %r", pull.html_url, plan.kind)
        _link(gh, plan, pull)
        return PullOutcome(kind=plan.kind, html_url=pull.html_url, opened=opened)
