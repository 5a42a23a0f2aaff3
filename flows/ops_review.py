"""ops-review: the week's operational-safety findings filed as issues, and the digest that
advocates for every open one."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote

from oncall import alert_quality, clock, escape
from oncall.advocacy import (
    Digest,
    cost_windows,
    digest,
    tracking_body,
    tracking_issue,
    tracking_marker,
    tracking_title,
)
from oncall.errors import ConfigError, InputError, NotAvailableError
from oncall.filing import Act, Filing, Wanted, index_issues, plan
from oncall.findings import Finding
from oncall.models import AlertQuery, Incident, IssueRef, TimeWindow
from oncall.ops_filing import FindingMarker, finding_body, plan_findings
from oncall.ops_review import (
    Review,
    by_hour,
    cost_start,
    finding_charts,
    markdown,
    pages_since,
    per_day,
    slack_payload,
)
from oncall.settings import Settings
from tasks.alerts import fetch_alerts, fetch_incidents
from tasks.clients import run_clients
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, post_once, publish_markdown, write_output
from tasks.github import apply_filing, list_gap_issues, rewrite_body
from tasks.locks import exclusive

Delivery = Literal["artifact", "slack", "file"]
_DONE = {
    Act.CREATE: "filed",
    Act.COMMENT: "updated",
    Act.REOPEN: "reopened",
    Act.LEAVE: "left: closed as not planned",
}


@flow(name="ops-review", log_prints=False)
def ops_review(
    window: str = "-7d",
    window_end: str = "now",
    repo: str | None = None,
    label: str | None = None,
    max_issues: int | None = None,
    deliver: list[Delivery] = ["artifact", "slack"],  # noqa: B006 - Prefect parameters must be JSON defaults
    dry_run: bool = False,
) -> dict[str, int]:
    """File the window's operational-safety findings as issues and publish the advocacy digest.

    Reads the window's alerts and incidents once (and, for open issues it filed earlier, the
    alerts since each was filed, up to 90 days), finds what pages too often, flaps, nobody
    acts on, wakes people, escalates or repeats, and files one issue per finding kind and
    subject through the same lifecycle as runbook gaps: new examples as one comment per run,
    reopened when it recurs, left alone when closed as not planned, held over the cap. Then
    every open issue with the label, people's own too, is ranked by the pages it has cost and
    its age, published, posted to Slack, and (with ONCALL_OPS_TRACKING_ISSUE) kept as the body
    of one tracking issue. Idempotent: reruns and concurrent runs file and post nothing twice.

    Args:
        window: Start of the window: a span back from its end like '-7d', or an ISO time
        window_end: End of the window: ISO time in the team's zone, or 'now'
        repo: owner/name that gets the issues; default ONCALL_GITHUB_REPO
        label: Label on operational-safety issues; default ONCALL_OPS_LABEL (operational-safety)
        max_issues: Most issues filed or reopened per run; default ONCALL_OPS_MAX_ISSUES (5)
        deliver: Where the review goes: artifact, slack, file (ops-review.md under ONCALL_OUT_DIR)
        dry_run: Show the issues it would file and the digest; change nothing on GitHub or Slack
    """
    log = get_run_logger()
    settings = resolve_settings()
    with run_clients(settings):
        tz = settings.team_timezone
        repo = repo or settings.github_repo
        label = label or settings.ops_label
        cap = settings.ops_max_issues if max_issues is None else max_issues
        if cap < 0:
            raise InputError(f"max_issues {cap} is negative; use 0 to file nothing")
        if not repo:
            raise ConfigError(
                "no repository for ops-review issues: set ONCALL_GITHUB_REPO or the repo parameter"
            )
        end = clock.parse_instant(window_end, tz)
        span = TimeWindow(start=clock.parse_start(window, end, tz), end=end)
        business = clock.BusinessHours.parse(settings.business_hours)
        sleep = clock.SleepHours.parse(settings.sleep_hours)

        # Gather: the incidents while the lock is taken; the issues under it, so a run that held
        # it before us has filed all it will; then the alerts, once, from as far back as the
        # oldest open finding issue needs
        incidents = fetch_incidents.submit(settings, span)
        with exclusive("ops-review", repo):
            issues = list_gap_issues(settings, repo, label)
            labelled = [i for i in issues if label in i.labels and not i.is_pull_request]
            since = cost_start(cost_windows(i for i in labelled if i.state == "open"), span)
            read = fetch_alerts(settings, AlertQuery(created=TimeWindow(start=since, end=end)))
            alerts = [a for a in read if span.contains(a.created_at)]
            found = _incidents(incidents.result(raise_on_failure=False))

            # Decide
            findings = alert_quality.findings(
                alerts,
                found,
                window=span,
                thresholds=alert_quality.Thresholds.from_settings(settings),
                tz=tz,
                business=business,
                sleep=sleep,
                now=end,
                rotation=settings.schedule,
                per_person=settings.ops_per_person,
            )
            steps = plan_findings(
                findings,
                index_issues(issues, FindingMarker),
                label,
                cap,
                charts=finding_charts(findings, alerts, span, tz),
                tz=tz,
            )
            log.info(
                "%d alerts in the window, %d findings; planned: %s",
                len(alerts),
                len(findings),
                ", ".join(f"{s.act.value} {s.want.name!r}" for s in steps) or "nothing",
            )

            # Apply
            outcomes, links, touched = _apply(settings, repo, steps, issues, findings, tz, dry_run)
            # the digest as it stands after this run: its new issues are this week's too
            now_open = list({i.number: i for i in [*labelled, *touched] if label in i.labels}.values())
            report = digest(
                now_open,
                now_open,
                now=end,
                week_start=span.start,
                pages_since=pages_since(read, tz=tz, sleep=sleep, rotation=settings.schedule),
                label=label,
            )
            if settings.ops_tracking_issue:
                _track(settings, repo, label, issues, report, dry_run)

        review = Review(
            window=span,
            tz=tz,
            alerts=len(alerts),
            findings=tuple(findings),
            outcomes=outcomes,
            links=links,
            per_day=tuple(per_day(alerts, span, tz)),
            by_hour=tuple(by_hour(alerts, span, tz)),
            digest=report,
            dry_run=dry_run,
        )
        text = markdown(review)
        key = artifact_key("ops-review", repo, "dry-run" if dry_run else "")
        if "artifact" in deliver or dry_run:
            publish_markdown(text, key, f"{'Dry run: ' if dry_run else ''}ops-review for {repo}")
        if "file" in deliver:
            write_output(settings.out_dir, "ops-review.md", text)
        if "slack" in deliver:
            if dry_run:
                log.info("Dry run: not posting the review to Slack")
            else:
                with exclusive("ops-review-slack", repo):
                    earlier = post_once(
                        settings, slack_payload(review), f"ops-review-{repo}", span.end.isoformat()
                    )
                if earlier is not None and earlier.confirmed:
                    log.info("This week's review was %s; not posting it again", earlier)
        counts = {act.value: sum(s.act is act for s in steps) for act in Act}
        return {"alerts": len(alerts), "findings": len(findings), **counts, "open": len(report.rows)}


def _incidents(result: list[Incident] | BaseException) -> list[Incident] | None:
    """The window's incidents, or None where the source keeps none (no P1-without-incident then)."""
    if isinstance(result, NotAvailableError):
        get_run_logger().info("No incidents from this source (%s): P1 pages are not checked for one", result)
        return None
    if isinstance(result, BaseException):
        raise result
    return result


def _apply(
    settings: Settings,
    repo: str,
    steps: list[Filing],
    issues: list[IssueRef],
    findings: list[Finding],
    tz: str,
    dry_run: bool,
) -> tuple[dict[str, str], dict[str, str], list[IssueRef]]:
    """Carry out the planned steps; returns what happened to each finding and its issue's URL,
    by fingerprint, and the issues as the steps left them."""
    log = get_run_logger()
    links = {fp: f.issue.html_url for fp, f in index_issues(issues, FindingMarker).items()}
    outcomes: dict[str, str] = {}
    touched: list[IssueRef] = []
    held: dict[str, list[str]] = defaultdict(list)
    by_fp = {f.fingerprint: f for f in findings}
    for step in steps:
        fp = step.want.key
        if step.act is Act.HOLD:
            held[step.reason].append(step.want.name)
            outcomes[fp] = f"held: {step.reason}"
            continue
        if step.act is Act.LEAVE:
            outcomes[fp] = _DONE[Act.LEAVE]
            continue
        if dry_run:
            preview = finding_body(by_fp[fp], tz=tz) if step.act is Act.CREATE else ""
            log.info(
                "Dry run: would %s %r%s",
                step.act.value,
                step.want.title,
                f"\n{escape.terminal_lines(preview)}" if preview else "",
            )
            outcomes[fp] = f"would {step.act.value}"
            continue
        issue = apply_filing(settings, repo, quote(step))  # type: ignore[call-overload]
        touched.append(issue)
        links[fp] = issue.html_url
        outcomes[fp] = _DONE[step.act]
    for reason, names in held.items():
        log.info("Not filing %d finding(s), %s: %s", len(names), reason, ", ".join(map(repr, names)))
    return outcomes, links, touched


def _track(
    settings: Settings, repo: str, label: str, issues: list[IssueRef], report: Digest, dry_run: bool
) -> None:
    """The digest as the body of one tracking issue: filed once (found again by its marker, a lost
    answer too), then rewritten in place; left alone once a person closes it."""
    log = get_run_logger()
    body = tracking_body(report)
    want = Wanted(
        key=label,
        marker=type(tracking_marker(label)),
        name="the advocacy digest",
        title=tracking_title(label),
        body=body,
        labels=(label,),
        reasons={Act.CREATE: "no tracking issue yet"},
    )
    existing = tracking_issue(issues, label)
    if dry_run:
        log.info("Dry run: would %s the tracking issue", "file" if existing is None else "rewrite")
        return
    if existing is None:
        for step in plan([want], {}, cap=1):
            issue = apply_filing(settings, repo, step)
            log.info("Filed the tracking issue %s", issue.html_url)
        return
    if existing.state != "open":
        log.info("The tracking issue %s is closed; not rewriting it", existing.html_url)
        return
    if existing.body != body:
        rewrite_body(settings, repo, existing.number, body)
        log.info("Rewrote the tracking issue %s", existing.html_url)
