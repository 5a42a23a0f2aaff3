"""Tasks for runbook-gaps: read the runbook, list gap issues, apply one planned action.

Writes are not retried by Prefect: each action looks for its own earlier result (the
fingerprint marker in an issue or comment) before writing, so a rerun finishes a partial
run without duplicating anything.

The label is a convenience for people, never the key: gap issues are those with the label or
opened by the token's own account, and each is known by its marker. An issue body belongs to
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
from oncall.gap_render import CLOSE_MARKER, close_comment, issue_body, issue_title, update_comment
from oncall.gaps import Act, GapAction, GapMarker, index_gap_issues, last_reported, read_markers, with_marker
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


def _gap_candidates(gh: GitHubClient, repo: str, label: str) -> list[IssueRef]:
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
        issues = _gap_candidates(gh, repo, label)
    get_run_logger().info(
        "Found %d issue(s) labelled %r or opened by the token in %s", len(issues), label, repo
    )
    return issues


def _labelled(gh: GitHubClient, repo: str, label: str, issue: IssueRef) -> IssueRef:
    """The new issue with its label, or a stop: GitHub silently drops the labels of a new issue
    when the account lacks push access. Triage access may add them afterwards; Read may not."""
    if label in issue.labels:
        return issue
    problem = (
        f"GitHub filed {issue.html_url} but dropped its label {label!r}: the account behind "
        f"{SETTING} needs Triage (or Write) access to {repo} "
        "to label issues. Grant it and run again; the issue is found again by its marker, not filed twice"
    )
    try:
        labels = gh.add_labels(repo, issue.number, [label])
    except AuthError:
        raise AuthError("GitHub", problem) from None
    if label not in labels:
        raise AuthError("GitHub", problem)
    return issue.model_copy(update={"labels": labels})


def _create(
    gh: GitHubClient, repo: str, label: str, action: GapAction, runbook: Runbook, tz: str
) -> IssueRef:
    assert action.coverage is not None
    title, body = issue_title(action.kind, action.coverage), issue_body(action.coverage, runbook, tz)
    try:
        return _labelled(gh, repo, label, gh.create_issue(repo, title, body, [label]))
    except UnavailableError:
        # GitHub may have created it before failing to answer: look for the marker first.
        found = index_gap_issues(_gap_candidates(gh, repo, label)).get(action.fingerprint)
        if found is not None:
            return _labelled(gh, repo, label, found.issue)
        return _labelled(gh, repo, label, gh.create_issue(repo, title, body, [label]))


def _report_new(gh: GitHubClient, repo: str, issue: IssueRef, action: GapAction, tz: str) -> None:
    """One update comment with the alerts not yet reported, then move the body's marker forward.

    The body is read again right before it is written, and only the marker changes: whatever a
    person wrote there since the run listed the issue stays."""
    existing = index_gap_issues([issue]).get(action.fingerprint)
    if existing is None:
        raise InputError(f"{repo}#{issue.number} lost its oncall-flows marker; restore it or close the issue")
    seen_until = last_reported(existing.marker, gh.comments(repo, issue.number))
    new = [a for a in action.new_alerts if a.created_at > seen_until]
    if new:
        gh.comment(repo, issue.number, update_comment(action.model_copy(update={"new_alerts": new}), tz))
        latest = GapMarker(**{**existing.marker.model_dump(), "last": new[-1].created_at})
        fresh = gh.issue(repo, issue.number).body
        if not any(not update and m.fp == latest.fp for update, m in read_markers(fresh)):
            return  # a person removed the marker: the update comment carries it, the body stays theirs
        gh.edit(repo, issue.number, body=with_marker(fresh, latest))


@task(cache_policy=NO_CACHE)
def apply_gap_action(
    settings: Settings, repo: str, label: str, action: GapAction, runbook: Runbook, tz: str
) -> str | None:
    """Carry out one planned action on GitHub; returns the issue's URL."""
    log = get_run_logger()
    with clients(settings) as run:
        gh = run.github()
        if action.act is Act.CREATE:
            issue = _create(gh, repo, label, action, runbook, tz)
            log.info("Filed %s for %r", issue.html_url, action.kind)
            return issue.html_url
        assert action.issue is not None
        issue = action.issue
        if action.act is Act.REOPEN:
            issue = gh.edit(repo, issue.number, state="open")
            _report_new(gh, repo, issue, action, tz)
            log.info("Reopened %s: %s", issue.html_url, action.reason)
        elif action.act is Act.COMMENT:
            _report_new(gh, repo, issue, action, tz)
            log.info("Updated %s: %s", issue.html_url, action.reason)
        elif action.act is Act.CLOSE:
            if not any(CLOSE_MARKER in c for c in gh.comments(repo, issue.number)):
                gh.comment(repo, issue.number, close_comment(action))
            gh.edit(repo, issue.number, state="closed", state_reason="completed")
            log.info("Closed %s: %s", issue.html_url, action.reason)
        return issue.html_url
