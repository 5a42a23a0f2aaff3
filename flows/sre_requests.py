"""sre-requests: an @SRE request with the ticket reaction becomes one GitHub issue, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from prefect import flow
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote

from oncall import clock, escape
from oncall.errors import ConfigError, InputError
from oncall.filing import Found, index_issues
from oncall.models import IssueRef, TimeWindow
from oncall.settings import Settings
from oncall.sre_requests import (
    SlackMessage,
    engineer,
    has_ticket_reaction,
    is_request,
    listing_markdown,
    requests_markdown,
)
from oncall.sre_tickets import RequestMarker, TicketPlan, plan_ticket, request_key, ticket_reply, ticket_title
from tasks.alerts import fetch_on_call
from tasks.clients import run_clients
from tasks.config import resolve_settings
from tasks.delivery import artifact_key, publish_markdown, write_output
from tasks.github import apply_filing, list_gap_issues
from tasks.locks import exclusive
from tasks.slack_requests import (
    SlackRequests,
    SlackThread,
    add_done_reaction,
    post_ticket_reply,
    read_requests,
    read_thread,
    sre_group_id,
)

OUTCOMES = ("filed", "replied", "reacted", "done", "skipped")
_DONE = {"file": "filed", "reply": "replied", "react": "reacted"}


@flow(name="sre-requests")
def sre_requests(
    window: str = "-24h",
    window_end: str = "now",
    channel: str | None = None,
    ts: str | None = None,
    repo: str | None = None,
    label: str | None = None,
    dry_run: bool = False,
    deliver: list[Literal["artifact", "file"]] = ["artifact"],  # noqa: B006 - Prefect parameters must be JSON defaults
) -> dict[str, int]:
    """Turn @SRE requests marked with the ticket reaction into GitHub issues, once each.

    With channel and ts (the relay's `oncall.sre.request.ticket` event), that one message;
    without, a sweep of the window for requests with the ticket reaction that are not done.
    For each, under a lock per message: file the issue (found again by its marker), reply in
    the thread with its link, and add the done reaction; each step is skipped when it is done
    already, so reruns, retried events and runs at once never file or reply twice.

    Args:
        window: Start of the sweep's window: a span back from its end like '-24h', or an ISO time
        window_end: End of the sweep's window: ISO time in the team's zone, or 'now'
        channel: One message's channel id (C…), with ts: the event's message
        ts: That message's ts, e.g. '1700000000.000100'
        repo: owner/name that gets the issues; default ONCALL_SRE_REQUEST_REPO, then ONCALL_GITHUB_REPO
        label: Label on the issues; default ONCALL_SRE_REQUEST_LABEL (sre-request)
        dry_run: Say what it would do (the counts too); write nothing to GitHub or Slack
        deliver: artifact, and file (sre-requests.md under ONCALL_OUT_DIR): what it did, and a sweep's every request with its state
    """
    log = get_run_logger()
    settings = resolve_settings()
    counts = {"tickets": 0, **dict.fromkeys(OUTCOMES, 0)}
    with run_clients(settings) as run:
        if (channel is None) != (ts is None):
            raise InputError("give both channel and ts (one message), or neither (a sweep of the window)")
        if not run.has_slack_api:
            log.info("No Slack bot token (ONCALL_SLACK_BOT_TOKEN) is configured: no @SRE request is read")
            return counts
        repo = repo or settings.sre_request_repo or settings.github_repo
        label = label or settings.sre_request_label
        if not repo:
            raise ConfigError(
                "no repository for @SRE request issues: set ONCALL_SRE_REQUEST_REPO (or ONCALL_GITHUB_REPO) "
                "or the repo parameter"
            )
        read: SlackRequests | None = None
        if channel is not None and ts is not None:
            wanted = [(channel, ts)]
        else:
            end = clock.parse_instant(window_end, settings.team_timezone)
            span = TimeWindow(start=clock.parse_start(window, end, settings.team_timezone), end=end)
            wanted, read = _swept(settings, span, repo, label)
        counts["tickets"] = len(wanted)
        rows: list[tuple[str, str, str]] = []
        for where, at in wanted:
            with exclusive("sre-request", where, at):
                outcome, url = _ticket(
                    settings, repo, label, where, at, event=channel is not None, dry_run=dry_run
                )
            for name in outcome:
                counts[name] += 1
            rows.append((request_key(where, at), url or "", ", ".join(outcome)))
        log.info("@SRE request tickets: %s", ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none")
        text = _markdown(rows, repo, dry_run)
        if read is not None:
            tz = settings.team_timezone
            text += "\n".join(
                [*requests_markdown(read.report), *listing_markdown(read.requests, read.window.end, tz)]
            )
            text += "\n"
        if "artifact" in deliver and (rows or read is not None):
            key = artifact_key("sre-requests", repo, "dry-run" if dry_run else "")
            publish_markdown(text, key, f"@SRE request tickets in {repo}")
        if "file" in deliver:
            write_output(settings.out_dir, "sre-requests.md", text)
    return counts


def _found(settings: Settings, repo: str, label: str) -> dict[str, Found[RequestMarker]]:
    """The label's issues (and the token's own) by their request marker."""
    return index_issues(list_gap_issues(settings, repo, label), RequestMarker)


def _names(settings: Settings) -> dict[str, str]:
    """People's names by Slack id, from ONCALL_SLACK_MEMBER_IDS."""
    return {member: person for person, member in settings.slack_member_ids.items()}


def _plan(
    settings: Settings,
    message: SlackMessage,
    replies: tuple[SlackMessage, ...],
    bots: frozenset[str],
    permalink: str | None,
    found: dict[str, Found[RequestMarker]],
    label: str,
) -> TicketPlan:
    return plan_ticket(
        message,
        replies,
        bots,
        found,
        label=label,
        done_reaction=settings.sre_done_reaction,
        permalink=permalink,
        tz=settings.team_timezone,
        names=_names(settings),
    )


def _swept(
    settings: Settings, span: TimeWindow, repo: str, label: str
) -> tuple[list[tuple[str, str]], SlackRequests | None]:
    """The window's requests with the ticket reaction that still have a step to do, judged
    against one listing of the issues (each is judged again under its lock), and the read. The
    on-call engineer's replies answer requests too: who it is comes from the source, and a
    source that cannot say leaves them to the group's members."""
    # the engineer whose shift the window ends in: at a hand-off's instant, the outgoing one
    on_call = fetch_on_call(settings, settings.schedule, span.end - timedelta(seconds=1), return_state=True)
    person, email = engineer(on_call.result()) if on_call.is_completed() else (None, None)
    if not on_call.is_completed():
        get_run_logger().warning("Not knowing who is on call, only the SRE group's replies answer requests")
    read = read_requests(settings, span, oncall=person, oncall_email=email)
    if read is None:
        return [], None
    ticketed = [t for t in read.threads if has_ticket_reaction(t.message, settings.sre_ticket_reaction)]
    if not ticketed:
        return [], read
    found = _found(settings, repo, label)
    return [
        (t.message.channel, t.message.ts)
        for t in ticketed
        if not _plan(settings, t.message, t.replies, t.bot_replies, t.request.permalink, found, label).done
    ], read


def _refused(settings: Settings, thread: SlackThread) -> str | None:
    """Why an event's message gets no ticket, or None: the relay forwards what Slack sent, and
    Slack may send it again after someone took the reaction off."""
    message = thread.message
    if not has_ticket_reaction(message, settings.sre_ticket_reaction):
        return f"it has no :{settings.sre_ticket_reaction.strip(':')}: reaction"
    if not is_request(message, sre_group_id(settings), settings.sre_keyword):
        return f"it is not an @SRE request (no mention of @{settings.sre_group.lstrip('@')})"
    return None


def _ticket(
    settings: Settings, repo: str, label: str, channel: str, ts: str, *, event: bool, dry_run: bool
) -> tuple[list[str], str | None]:
    """One message's remaining steps, under its lock; returns what was done and the issue's link."""
    log = get_run_logger()
    if event and channel not in settings.sre_channels:  # not read: the bot may not be in it
        log.info("No ticket for %s in %s: the channel is not in ONCALL_SRE_CHANNELS", ts, channel)
        return ["skipped"], None
    thread = read_thread(settings, channel, ts)
    if thread is None:
        return ["skipped"], None
    if event and (why := _refused(settings, thread)) is not None:
        log.info("No ticket for %s in %s: %s", ts, channel, why)
        return ["skipped"], None
    found = _found(settings, repo, label)
    todo = _plan(settings, thread.message, thread.replies, thread.bot_replies, thread.permalink, found, label)
    if todo.done:
        log.info(
            "The ticket for %s in %s is done already: %s",
            ts,
            channel,
            todo.issue.html_url if todo.issue else "",
        )
        return ["done"], todo.issue.html_url if todo.issue else None
    if dry_run:
        log.info(
            "Dry run: for %s in %s would %s%s",
            ts,
            channel,
            ", ".join(todo.steps),
            f" ({escape.terminal(ticket_title(thread.message), 200)!r})" if todo.wanted else "",
        )
        return [_DONE[step] for step in todo.steps], todo.issue.html_url if todo.issue else None
    done: list[str] = []
    issue: IssueRef | None = todo.issue
    if todo.filing is not None:
        issue = apply_filing(settings, repo, quote(todo.filing))  # type: ignore[call-overload]
        done.append("filed")
    assert issue is not None
    if todo.reply:
        post_ticket_reply(settings, channel, ts, ticket_reply(issue, repo))
        done.append("replied")
    if todo.react:
        add_done_reaction(settings, channel, ts)
        done.append("reacted")
    return done, issue.html_url


def _markdown(rows: list[tuple[str, str, str]], repo: str, dry_run: bool) -> str:
    head = f"# @SRE request tickets in {escape.prefect_md(repo, 100)}{' (dry run)' if dry_run else ''}"
    done = "would do" if dry_run else "done this run"
    lines = [head, "", f"| message | issue | {done} |", "|---|---|---|"]
    for key, url, outcome in rows:
        issue = escape.prefect_link(f"#{url.rsplit('/', 1)[-1]}", url, 20) if url else ""
        lines.append(
            f"| {escape.prefect_md(key, 60)} | {issue} | {escape.prefect_md(outcome or 'nothing', 60)} |"
        )
    return "\n".join(lines) + "\n"
