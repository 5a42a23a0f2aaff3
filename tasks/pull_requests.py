"""Tasks for runbook-gaps' draft pull requests: one per new gap, each write found again first.

The branch is named by the kind's fingerprint, the commit is known by the entry marker in the
file on that branch, the pull request by its head branch, and the gap issue's link by its
comment marker. Each step looks before it writes, and a write whose answer was lost is looked
for once more before the task gives up, so a rerun finishes whatever a crash left.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients.github import GitHubClient, PullRef
from oncall.errors import InputError, UnavailableError
from oncall.runbook import Layout
from oncall.runbook_pr import PullOutcome, PullPlan, has_entry, insert_entry, link_comment, link_marker
from oncall.settings import Settings
from tasks.clients import clients


def _base(gh: GitHubClient, plan: PullPlan) -> tuple[str, str]:
    """The branch the pull request goes into, and its head sha: the ref the runbook was read at
    when that is a branch, else the default branch (a tag or a sha takes no pull request)."""
    if plan.base:
        sha = gh.branch_sha(plan.repo, plan.base)
        if sha is not None:
            return plan.base, sha
    base = gh.default_branch(plan.repo)
    sha = gh.branch_sha(plan.repo, base)
    if sha is None:
        raise InputError(f"{plan.repo} has no branch {base!r} to open a runbook pull request against")
    return base, sha


def _added_meanwhile(gh: GitHubClient, plan: PullPlan, base: str) -> bool:
    """A folder runbook's new file is on the base branch already, not by us: a person added it
    since the runbook was read, so there is nothing to propose and no branch to make."""
    if plan.layout is not Layout.FILES:
        return False
    found = gh.file(plan.repo, plan.path, base)
    return found is not None and not has_entry(found[0], plan.fingerprint)


def _branch(gh: GitHubClient, plan: PullPlan, sha: str) -> None:
    """The branch, made once: the client counts "Reference already exists" as made."""
    if gh.branch_sha(plan.repo, plan.branch) is None:
        gh.create_branch(plan.repo, plan.branch, sha)


def _commit(gh: GitHubClient, plan: PullPlan, base: str, entry_level: int) -> bool:
    """The entry on the branch, committed once; False when the file is there without our entry
    (a person added it meanwhile), so there is nothing to propose."""
    found = gh.file(plan.repo, plan.path, plan.branch)
    if has_entry(found[0] if found else None, plan.fingerprint):
        return True
    if plan.layout is Layout.FILES:
        if found is not None:
            return False
        text = plan.entry
    else:
        if found is None:
            raise InputError(f"runbook file {plan.path} is not on branch {base} of {plan.repo}")
        text = insert_entry(found[0], plan, entry_level)
    try:
        gh.put_file(plan.repo, plan.path, plan.branch, plan.commit_message, text, found[1] if found else None)
    except UnavailableError:
        again = gh.file(plan.repo, plan.path, plan.branch)
        if not has_entry(again[0] if again else None, plan.fingerprint):
            raise
    return True


def _pull(gh: GitHubClient, plan: PullPlan, base: str) -> PullRef:
    """The draft pull request; the client finds one a lost answer or a run beside this one made."""
    return gh.create_pull(plan.repo, plan.title, plan.body, head=plan.branch, base=base, draft=True)


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
            base, sha = _base(gh, plan)
            if _added_meanwhile(gh, plan, base):
                log.info(
                    "Not opening a pull request for %r: %s exists on %s already", plan.kind, plan.path, base
                )
                return PullOutcome(kind=plan.kind, html_url=None, opened=False)
            _branch(gh, plan, sha)
            if not _commit(gh, plan, base, entry_level):
                log.info("Not opening a pull request for %r: %s exists already", plan.kind, plan.path)
                return PullOutcome(kind=plan.kind, html_url=None, opened=False)
            pull, opened = _pull(gh, plan, base), True
            log.info("Opened draft pull request %s for %r", pull.html_url, plan.kind)
        _link(gh, plan, pull)
        return PullOutcome(kind=plan.kind, html_url=pull.html_url, opened=opened)
