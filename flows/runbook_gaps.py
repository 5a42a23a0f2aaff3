"""runbook-gaps: every alert kind that paged without a runbook entry gets one GitHub issue."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote

from oncall import clock
from oncall.clients.records import records_held
from oncall.coverage import Matcher
from oncall.errors import ConfigError, InputError
from oncall.gap_render import coverage_markdown, coverage_rows, issue_body, issue_title
from oncall.gaps import Act, assess_coverage, index_gap_issues, plan_gap_actions
from oncall.models import AlertQuery, TimeWindow
from tasks.alerts import fetch_alerts
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, publish_markdown, publish_table, write_output
from tasks.github import apply_gap_action, list_gap_issues, read_runbook
from tasks.locks import exclusive


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
) -> dict[str, int]:
    """File one GitHub issue for each alert kind that paged without a runbook entry.

    Reads the runbook, matches every alert of the window to an entry, and for each kind
    with none files an issue (or comments on, or reopens, the one that exists) with the
    occurrences, a sample, links and an entry skeleton in the runbook's own format.
    Idempotent: reruns and concurrent runs never file a second issue for a kind.

    Args:
        window: Start of the window: a span back from its end like '-24h', or an ISO time
        window_end: End of the window: ISO time in the team's zone, or 'now'
        runbook: 'owner/repo:path@ref' or a local path; default ONCALL_RUNBOOK
        repo: owner/name that gets the issues; default ONCALL_GITHUB_REPO
        label: Label on gap issues; default ONCALL_GAP_LABEL (runbook-gap)
        max_issues: Most issues filed or reopened per run; default ONCALL_MAX_ISSUES (10)
        close_covered: Comment on and close gap issues whose kind now has an entry
        dry_run: Show the issues it would file; change nothing on GitHub
        deliver: artifact, and file (coverage.md under ONCALL_OUT_DIR)
    """
    log = get_run_logger()
    settings = resolve_settings()
    tz = settings.team_timezone
    repo = repo or settings.github_repo
    label = label or settings.gap_label
    cap = settings.max_issues if max_issues is None else max_issues
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
    with exclusive("runbook-gaps", repo), records_held():
        existing = index_gap_issues(list_gap_issues(settings, repo, label))
        book = runbook_read.result()

        # Decide
        matcher = Matcher(book)
        coverage = assess_coverage(alerts.result().items, matcher)
        actions = plan_gap_actions(coverage, existing, matcher, max_issues=cap, close_covered=close_covered)
        gaps = sum(kc.status == "gap" for kc in coverage)
        log.info(
            "%d kinds paged, %d without an entry; planned: %s",
            len(coverage),
            gaps,
            ", ".join(f"{a.act.value} {a.kind!r}" for a in actions) or "nothing",
        )

        # Apply
        links = {fp: e.issue.html_url for fp, e in existing.items()}
        held: dict[str, list[str]] = defaultdict(list)
        for action in actions:
            if action.act in (Act.HOLD, Act.LEAVE):
                held[action.reason].append(action.kind)
                continue
            if dry_run:
                assert action.coverage is not None or action.act is Act.CLOSE
                preview = (
                    issue_body(action.coverage, book, tz)
                    if action.act is Act.CREATE and action.coverage
                    else ""
                )
                log.info(
                    "Dry run: would %s %r%s",
                    action.act.value,
                    issue_title(action.kind),
                    f"\n{preview}" if preview else "",
                )
                continue
            # quote(): the action carries every alert of its kind and the book every entry;
            # Prefect need not walk them looking for futures.
            url = apply_gap_action(settings, repo, label, quote(action), quote(book), tz)  # type: ignore[call-overload]
            if url:
                links[action.fingerprint] = url
        for reason, kinds in held.items():  # one line per reason, not one per kind
            log.info("Not filing %d kind(s), %s: %s", len(kinds), reason, ", ".join(map(repr, kinds)))

    report = coverage_markdown(coverage, book, links, actions)
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
    return {"kinds": len(coverage), "gaps": gaps, **counts}
