"""GitHub tasks: read the runbook, list a flow's issues, apply one planned filing step.

The applier serves every flow that files issues (`oncall.filing`) and knows none of them.
Writes are not retried by Prefect: each step looks for its own earlier result (the marker in
an issue or comment) before writing, so a rerun finishes a partial run without duplicating
anything.

The label is a convenience for people, never the key: a flow's issues are those with its label
or opened by the token's own account, and each is known by its marker. An issue body belongs to
the people who work on it; the flow owns only its hidden marker there, re-reads the body right
before moving it, and writes everything else as comments.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients import runbook_files
from oncall.clients.github import SETTING, GitHubClient
from oncall.errors import AuthError, InputError, UnavailableError
from oncall.filing import Act, Filing, Wanted, index_issues
from oncall.models import IssueRef
from oncall.runbook import Runbook, RunbookSource
from oncall.settings import Settings
from tasks.clients import clients
from tasks.retry import outage_only


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def read_runbook(settings: Settings, source: str) -> Runbook:
    """The runbook's entries (a file, or a folder of one file per alert); a missing, empty or
    entry-less runbook fails here, before any write."""
    where = RunbookSource.parse(source)
    with clients(settings) as run:
        runbook = runbook_files.read_runbook(
            where,
            github=run.github,  # built only if the runbook is on GitHub
            web_base=runbook_files.web_base(settings.github_base_url),
            max_in_flight=settings.max_concurrency,
        )
    get_run_logger().info(
        "Runbook %s: %d entries under %d products (%s layout)",
        where,
        len(runbook.entries),
        len(runbook.products),
        runbook.layout.value,
    )
    return runbook


def _candidates(gh: GitHubClient, repo: str, label: str) -> list[IssueRef]:
    """Issues with the label, and issues the token's account opened (GitHub drops the label of
    an account without push access, and a person may remove it): both listings read at once."""
    with ThreadPoolExecutor(2, thread_name_prefix="github-listing") as pool:
        labelled = pool.submit(gh.list_issues, repo, label)
        login = gh.login()  # None for a GitHub App's token, whose issues keep their labels
        mine = gh.list_issues(repo, creator=login) if login else []
        found = {i.number: i for i in [*labelled.result(), *mine]}
    return [found[n] for n in sorted(found)]


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def list_gap_issues(settings: Settings, repo: str, label: str) -> list[IssueRef]:
    """Every issue, open and closed, that has the gap label or was opened by the token's account."""
    with clients(settings) as run:
        gh = run.github()
        issues = _candidates(gh, repo, label)
    get_run_logger().info(
        "Found %d issue(s) labelled %r or opened by the token in %s", len(issues), label, repo
    )
    return issues


def _labelled(gh: GitHubClient, repo: str, labels: tuple[str, ...], issue: IssueRef) -> IssueRef:
    """The new issue with its labels, or a stop: GitHub silently drops the labels of a new issue
    when the account lacks push access. Triage access may add them afterwards; Read may not."""
    missing = [label for label in labels if label not in issue.labels]
    if not missing:
        return issue
    problem = (
        f"GitHub filed {issue.html_url} but dropped its label {', '.join(map(repr, missing))}: the account "
        f"behind {SETTING} needs Triage (or Write) access to {repo} "
        "to label issues. Grant it and run again; the issue is found again by its marker, not filed twice"
    )
    try:
        now = gh.add_labels(repo, issue.number, missing)
    except AuthError:
        raise AuthError("GitHub", problem) from None
    if any(label not in now for label in missing):
        raise AuthError("GitHub", problem)
    return issue.model_copy(update={"labels": now})


def _create(gh: GitHubClient, repo: str, want: Wanted) -> IssueRef:
    labels = want.labels
    try:
        return _labelled(gh, repo, labels, gh.create_issue(repo, want.title, want.body, list(labels)))
    except UnavailableError:
        # GitHub may have created it before failing to answer: look for the marker first.
        found = index_issues(_candidates(gh, repo, labels[0]), want.marker).get(want.key)
        if found is not None:
            return _labelled(gh, repo, labels, found.issue)
        return _labelled(gh, repo, labels, gh.create_issue(repo, want.title, want.body, list(labels)))


def _say_again(gh: GitHubClient, repo: str, issue: IssueRef, want: Wanted) -> None:
    """What is still unsaid as one comment, then move the body's marker forward.

    The body is read again right before it is written, and only the marker changes: whatever a
    person wrote there since the run listed the issue stays."""
    marker = want.marker.first(issue.body)
    if marker is None or marker.key != want.key:
        raise InputError(f"{repo}#{issue.number} lost its oncall-flows marker; restore it or close the issue")
    assert want.repeat is not None
    said = want.repeat.unsaid(marker, gh.comments(repo, issue.number))
    if said is None:
        return
    gh.comment(repo, issue.number, said.comment)
    if said.marker is None:
        return
    fresh = gh.issue(repo, issue.number).body
    if not want.marker.holds(fresh, want.key):
        return  # a person removed the marker: the update comment carries it, the body stays theirs
    gh.edit(repo, issue.number, body=said.marker.put(fresh))


@task(cache_policy=NO_CACHE)
def apply_filing(settings: Settings, repo: str, filing: Filing) -> IssueRef:
    """Carry out one planned step on GitHub; returns the issue it acted on (a new one's too)."""
    log = get_run_logger()
    want = filing.want
    with clients(settings) as run:
        gh = run.github()
        if filing.act is Act.CREATE:
            issue = _create(gh, repo, want)
            log.info("Filed %s for %r", issue.html_url, want.name)
            return issue
        assert filing.issue is not None
        issue = filing.issue
        if filing.act is Act.REOPEN:
            issue = gh.edit(repo, issue.number, state="open")
            _say_again(gh, repo, issue, want)
            log.info("Reopened %s: %s", issue.html_url, filing.reason)
        elif filing.act is Act.COMMENT:
            _say_again(gh, repo, issue, want)
            log.info("Updated %s: %s", issue.html_url, filing.reason)
        elif filing.act is Act.CLOSE:
            said = want.repeat.unsaid(None, gh.comments(repo, issue.number)) if want.repeat else None
            if said is not None:
                gh.comment(repo, issue.number, said.comment)
            gh.edit(repo, issue.number, state="closed", state_reason="completed")
            log.info("Closed %s: %s", issue.html_url, filing.reason)
        return issue


@task(cache_policy=NO_CACHE)
def rewrite_body(settings: Settings, repo: str, number: int, body: str) -> None:
    """Replace an issue's whole body: only for an issue whose body the flow owns (the advocacy
    digest's tracking issue says so in it). The same body twice is the same edit."""
    with clients(settings) as run:
        run.github().edit(repo, number, body=body)
