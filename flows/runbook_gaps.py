"""runbook-gaps: every alert kind that paged without a runbook entry gets one GitHub issue."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote

from oncall import clock, escape
from oncall.coverage import Matcher
from oncall.errors import ConfigError, InputError
from oncall.gap_render import (
    UNCHANGED,
    coverage_markdown,
    coverage_rows,
    gap_filing,
    gap_outcomes,
    issue_body,
    issue_title,
)
from oncall.gaps import (
    Act,
    ExistingGap,
    GapAction,
    KindCoverage,
    assess_coverage,
    attach_links,
    check_misread,
    index_gap_issues,
    plan_gap_actions,
)
from oncall.models import AlertQuery, TimeWindow
from oncall.runbook import Runbook
from oncall.runbook_pr import branch_name, notes_of, notes_wanted, plan_pull, pull_candidates
from oncall.settings import Settings
from tasks.alerts import fetch_alert_notes, fetch_alerts, fetch_runbook_links
from tasks.clients import run_clients
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, publish_markdown, publish_table, write_output
from tasks.github import apply_filing, list_gap_issues, read_runbook
from tasks.links import check_runbook_links
from tasks.locks import exclusive
from tasks.pull_requests import find_gap_pull_requests, open_gap_pull_request


@flow(name="runbook-gaps")
def runbook_gaps(
    window: str = "-24h",
    window_end: str = "now",
    runbook: str | None = None,
    repo: str | None = None,
    label: str | None = None,
    max_issues: int | None = None,
    close_covered: bool = False,
    dry_run: bool = False,
    deliver: list[Literal["artifact", "file"]] = ["artifact"],  # noqa: B006 - Prefect parameters must be JSON defaults
    force: bool = False,
    open_pr: bool | None = None,
) -> dict[str, int]:
    """File one GitHub issue for each alert kind that paged without a runbook entry.

    Reads the runbook, matches every alert of the window to an entry (or, when the alert
    carries a runbook link, checks where the link points), and for each kind with none files
    an issue (or comments on, or reopens, the one that exists) with the occurrences, a
    sample, links and an entry skeleton in the runbook's own format. A link to a page or
    heading that does not exist gets its own issue. With open_pr, each new gap also gets a
    draft pull request adding its skeleton to the runbook. Idempotent: reruns and concurrent
    runs never file a second issue, branch or pull request for a kind.

    Args:
        window: Start of the window: a span back from its end like '-24h', or an ISO time
        window_end: End of the window: ISO time in the team's zone, or 'now'
        runbook: 'owner/repo:path@ref' (a file or a folder) or a local path; default ONCALL_RUNBOOK
        repo: owner/name that gets the issues; default ONCALL_GITHUB_REPO
        label: Label on gap issues; default ONCALL_GAP_LABEL (runbook-gap)
        max_issues: Most issues (and pull requests) filed or reopened per run; default ONCALL_MAX_ISSUES (10)
        close_covered: Comment on and close gap issues whose kind now has an entry (or a working link)
        dry_run: Show the issues and pull requests it would open; change nothing on GitHub
        deliver: artifact, and file (coverage.md under ONCALL_OUT_DIR)
        force: File even when nearly every kind is a gap (the runbook looks misread)
        open_pr: Open a draft pull request per new gap in the runbook's repository; default ONCALL_OPEN_PR
    """
    log = get_run_logger()
    settings = resolve_settings()
    with run_clients(settings):  # one set of outside clients for the whole run
        tz = settings.team_timezone
        repo = repo or settings.github_repo
        label = label or settings.gap_label
        cap = settings.max_issues if max_issues is None else max_issues
        pulls_wanted = settings.open_pr if open_pr is None else open_pr
        if cap < 0:
            raise InputError(f"max_issues {cap} is negative; use 0 to file nothing")
        if not repo:
            raise ConfigError("no repository for gap issues: set ONCALL_GITHUB_REPO or the repo parameter")
        end = clock.parse_instant(window_end, tz)
        span = TimeWindow(start=clock.parse_start(window, end, tz), end=end)

        # Gather: alerts and the runbook while the lock is taken; gap issues only under it, so a
        # run that held it before us has filed all it will
        alerts = fetch_alerts.submit(settings, AlertQuery(created=span))
        runbook_read = read_runbook.submit(settings, runbook or settings.runbook or "")
        with exclusive("runbook-gaps", repo):
            existing = index_gap_issues(list_gap_issues(settings, repo, label))
            book = runbook_read.result()
            matcher = Matcher(book)
            coverage = _with_links(settings, assess_coverage(alerts.result(), matcher), book)

            # Decide
            check_misread(coverage, book, force=force)
            actions = plan_gap_actions(
                coverage, existing, matcher, max_issues=cap, close_covered=close_covered
            )
            gaps = sum(kc.status == "gap" for kc in coverage)
            log.info(
                "%d kinds paged, %d without an entry, %d with a broken runbook link; planned: %s",
                len(coverage),
                gaps,
                sum(kc.status == "broken-link" for kc in coverage),
                ", ".join(f"{a.act.value} {a.kind!r}" for a in actions) or "nothing",
            )

            # Apply
            links, filed = _apply(settings, repo, label, actions, existing, book, tz, dry_run)
            pulls = (
                _open_pulls(settings, repo, coverage, existing, filed, actions, book, cap, dry_run)
                if pulls_wanted
                else []
            )

        report = coverage_markdown(coverage, book, links, actions, pulls)
        key = artifact_key("runbook-gaps", repo, "dry-run" if dry_run else "")
        if "artifact" in deliver:
            publish_table(
                coverage_rows(coverage, book, links),
                artifact_key(key, "coverage"),
                f"Runbook coverage for {repo}",
            )
            publish_markdown(report, key, f"runbook-gaps summary for {repo}")
        if "file" in deliver:
            write_output(settings.out_dir, "coverage.md", report)
        counts = {act.value: sum(a.act is act for a in actions) for act in Act}
        return {
            "kinds": len(coverage),
            "gaps": gaps,
            **counts,
            # gaps and broken links with an issue and nothing new: with the actions, they add up
            "unchanged": gap_outcomes(coverage, actions).get(UNCHANGED, 0),
            "broken_links": sum(kc.status == "broken-link" for kc in coverage),
            "unverified_links": sum(kc.status == "unverified-link" for kc in coverage),
            "pulls": len(pulls),
        }


def _with_links(settings: Settings, coverage: list[KindCoverage], book: Runbook) -> list[KindCoverage]:
    """Each kind's runbook link, read from one sample alert per kind and checked once per URL."""
    if not coverage:
        return coverage
    urls = fetch_runbook_links(settings, [kc.sample for kc in coverage])
    if not urls:
        return coverage
    checks = check_runbook_links(settings, sorted(set(urls.values())), quote(book))  # type: ignore[call-overload]
    return attach_links(coverage, urls, checks)


def _apply(
    settings: Settings,
    repo: str,
    label: str,
    actions: list[GapAction],
    existing: dict[str, ExistingGap],
    book: Runbook,
    tz: str,
    dry_run: bool,
) -> tuple[dict[str, str], dict[str, str]]:
    """Carry out the planned actions; returns every gap issue's URL, and those this run filed
    or reopened, by fingerprint."""
    log = get_run_logger()
    links = {fp: e.issue.html_url for fp, e in existing.items()}
    filed: dict[str, str] = {}
    held: dict[str, list[str]] = defaultdict(list)
    for action in actions:
        if action.act in (Act.HOLD, Act.LEAVE):
            held[action.reason].append(action.kind)
            continue
        if dry_run:
            assert action.coverage is not None or action.act is Act.CLOSE
            preview = (
                issue_body(action.coverage, book, tz) if action.act is Act.CREATE and action.coverage else ""
            )
            log.info(
                "Dry run: would %s %r%s",
                action.act.value,
                issue_title(action.kind, action.coverage),
                f"\n{escape.terminal_lines(preview)}" if preview else "",
            )
            continue
        # quote(): the step carries every alert of its kind; Prefect need not walk them looking
        # for futures.
        url = apply_filing(settings, repo, quote(gap_filing(action, book, tz, label))).html_url  # type: ignore[call-overload]
        links[action.fingerprint] = url
        if action.act in (Act.CREATE, Act.REOPEN):
            filed[action.fingerprint] = url
    for reason, kinds in held.items():  # one line per reason, not one per kind
        log.info("Not filing %d kind(s), %s: %s", len(kinds), reason, ", ".join(map(repr, kinds)))
    return links, filed


def _open_pulls(
    settings: Settings,
    repo: str,
    coverage: list[KindCoverage],
    existing: dict[str, ExistingGap],
    filed: dict[str, str],
    actions: list[GapAction],
    book: Runbook,
    cap: int,
    dry_run: bool,
) -> list[str]:
    """One draft pull request per new gap, at most `cap` opened per run; returns their URLs (in a
    dry run, what each would add)."""
    log = get_run_logger()
    if book.repo is None:
        log.info(
            "Not opening pull requests: the runbook %s was read from a local path, not from GitHub; "
            "set ONCALL_RUNBOOK (or the runbook parameter) to 'owner/repo:path@ref'",
            book.source,
        )
        return []
    if dry_run:
        # The gaps this run would file have no issue yet: preview them with a placeholder number.
        planned = {
            a.fingerprint: f"https://github.com/{repo}/issues/0"
            for a in actions
            if a.act in (Act.CREATE, Act.REOPEN)
        }
        candidates = pull_candidates(coverage, existing, planned)[:cap]
        for kc, issue in candidates:
            plan = plan_pull(kc, issue, repo, book)
            log.info(
                "Dry run: would open (or reuse) a draft pull request in %s on %s, changing %s:\n%s",
                plan.repo,
                plan.branch,
                escape.terminal(plan.path, 300),
                escape.terminal_lines(plan.entry),
            )
        return [f"would open or reuse {plan_pull(kc, i, repo, book).branch}" for kc, i in candidates]
    candidates = pull_candidates(coverage, existing, filed)
    if not candidates:
        return []
    # Every open gap is a candidate on every run: notes are read only for those with no pull
    # request yet, so a gap whose pull request waits costs the alert source nothing.
    found = find_gap_pull_requests(settings, book.repo, [branch_name(kc.fingerprint) for kc, _ in candidates])
    wanted = [i for kc, _ in candidates if branch_name(kc.fingerprint) not in found for i in notes_wanted(kc)]
    notes = fetch_alert_notes(settings, wanted) if wanted else {}
    urls: list[str] = []
    opened = held = 0
    for kc, issue in candidates:
        plan = plan_pull(kc, issue, repo, book, notes_of(kc, notes))
        outcome = open_gap_pull_request(  # type: ignore[call-overload]
            settings, quote(plan), book.entry_level, opened < cap, found.get(plan.branch)
        )
        opened += outcome.opened
        held += outcome.held
        if outcome.html_url:
            urls.append(outcome.html_url)
    if held:
        log.info("Not opening %d pull request(s), over the cap of %d; a later run opens them", held, cap)
    return urls
