"""Tasks for runbook-gaps: read the runbook, list gap issues, apply one planned action.

Writes are not retried by Prefect: each action looks for its own earlier result (the
fingerprint marker in an issue or comment) before writing, so a rerun finishes a partial
run without duplicating anything.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients.github import GitHubClient, IssueRef
from oncall.errors import InputError, UnavailableError
from oncall.gap_render import CLOSE_MARKER, close_comment, issue_body, issue_title, update_comment
from oncall.gaps import Act, GapAction, GapMarker, index_gap_issues, last_reported, with_marker
from oncall.runbook import Runbook, RunbookSource, parse_runbook
from oncall.settings import Settings
from tasks.retry import outage_only


def github_client(settings: Settings) -> GitHubClient:
    return GitHubClient(
        settings.require("github_token"),
        base_url=settings.github_base_url,
        timeout=settings.http_timeout_seconds,
        write_interval=settings.github_write_interval,
        backoff=settings.http_backoff_seconds,
        concurrency=settings.max_concurrency,
    )


def web_base(api_base: str) -> str:
    """github.com for the public API; the host itself for GitHub Enterprise (`https://HOST/api/v3`)."""
    if "api.github.com" in api_base:
        return "https://github.com"
    return api_base.rstrip("/").removesuffix("/api/v3")


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def read_runbook(settings: Settings, source: str) -> Runbook:
    """The runbook's entries; a missing, empty or entry-less runbook fails here, before any write."""
    where = RunbookSource.parse(source)
    if where.repo:
        with github_client(settings) as gh:
            text = gh.read_file(where.repo, where.path, where.ref)
        url = where.web_url(web_base(settings.github_base_url))
    else:
        path = Path(where.path)
        if not path.is_file():
            raise InputError(
                f"runbook file {path} does not exist; set ONCALL_RUNBOOK or the runbook parameter"
            )
        text = path.read_text(encoding="utf-8", errors="replace")
        url = None
    runbook = parse_runbook(text, source=str(where), url=url)
    get_run_logger().info(
        "Runbook %s: %d entries under %d products", where, len(runbook.entries), len(runbook.products)
    )
    return runbook


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def list_gap_issues(settings: Settings, repo: str, label: str) -> list[IssueRef]:
    """Every issue with the gap label, open and closed: one paged listing."""
    with github_client(settings) as gh:
        issues = gh.list_issues(repo, label)
    get_run_logger().info("Found %d issue(s) labelled %r in %s", len(issues), label, repo)
    return issues


def _create(
    gh: GitHubClient, repo: str, label: str, action: GapAction, runbook: Runbook, tz: str
) -> IssueRef:
    assert action.coverage is not None
    title, body = issue_title(action.kind), issue_body(action.coverage, runbook, tz)
    try:
        return gh.create_issue(repo, title, body, [label])
    except UnavailableError:
        # GitHub may have created it before failing to answer: look for the marker first.
        found = index_gap_issues(gh.list_issues(repo, label)).get(action.fingerprint)
        if found is not None:
            return found.issue
        return gh.create_issue(repo, title, body, [label])


def _report_new(gh: GitHubClient, repo: str, issue: IssueRef, action: GapAction, tz: str) -> None:
    """One update comment with the alerts not yet reported, then move the body's marker forward."""
    existing = index_gap_issues([issue]).get(action.fingerprint)
    if existing is None:
        raise InputError(f"{repo}#{issue.number} lost its oncall-flows marker; restore it or close the issue")
    seen_until = last_reported(existing.marker, gh.comments(repo, issue.number))
    new = [a for a in action.new_alerts if a.created_at > seen_until]
    if new:
        gh.comment(repo, issue.number, update_comment(action.model_copy(update={"new_alerts": new}), tz))
        latest = GapMarker(**{**existing.marker.model_dump(), "last": new[-1].created_at})
        gh.edit(repo, issue.number, body=with_marker(issue.body, latest))


@task(cache_policy=NO_CACHE)
def apply_gap_action(
    settings: Settings, repo: str, label: str, action: GapAction, runbook: Runbook, tz: str
) -> str | None:
    """Carry out one planned action on GitHub; returns the issue's URL."""
    log = get_run_logger()
    with github_client(settings) as gh:
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
