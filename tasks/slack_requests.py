"""Slack tasks for @SRE requests: read a shift's requests (the hand-off and the sweep), read one
request's thread again right before acting on it, and the two Slack writes of a ticket.

The read keeps to the issue's budget: usergroups.list for the group and its members,
conversations.history in pages of 200 per channel, one conversations.replies per request whose
thread has replies (none for a request nobody answered in a thread), and one chat.getPermalink
for the whole read: Slack's permalinks differ only in channel and ts, so the first one found is
the pattern for the rest.

With no bot token the read says so once and returns None, and the hand-off goes out as before.
A channel the bot cannot read (not invited, not found, a scope missing for a private channel) is
skipped with a log line naming the fix; the other channels are still read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients import runbook_files
from oncall.clients.slack_api import MessageNotFoundError, SlackApi
from oncall.errors import AuthError, NotFoundError, OutsideError
from oncall.models import Frozen, TimeWindow
from oncall.settings import Settings
from oncall.sre_requests import (
    RequestsReport,
    SlackMessage,
    SreRequest,
    classify,
    is_request,
    message_from_api,
    summarize_requests,
)
from tasks.clients import clients
from tasks.retry import outage_only


class RequestThread(Frozen):
    """One request and its thread as read: the replies (parent left out, oldest first), and which
    of them an app posted (`bot_id`), since only an app's reply can be the flow's own."""

    request: SreRequest
    replies: tuple[SlackMessage, ...] = ()
    bot_replies: frozenset[str] = frozenset()  # ts of the replies an app posted

    @property
    def message(self) -> SlackMessage:
        return self.request.message


class SlackRequests(Frozen):
    """A window's requests in the configured channels, and what could not be read."""

    window: TimeWindow
    group_id: str | None
    responders: frozenset[str]
    threads: tuple[RequestThread, ...]  # oldest first
    skipped: dict[str, str]  # channel -> why it was not read
    report: RequestsReport  # aged at the `now` the read was given (the shift's end)

    @property
    def requests(self) -> tuple[SreRequest, ...]:
        return tuple(t.request for t in self.threads)


def _thread(
    channel: str, parent_ts: str, raw: Sequence[dict[str, Any]]
) -> tuple[tuple[SlackMessage, ...], frozenset[str]]:
    replies = [m for r in raw if (m := message_from_api(channel, r)) is not None and m.ts != parent_ts]
    bots = frozenset(str(r.get("ts")) for r in raw if r.get("bot_id") and r.get("ts") != parent_ts)
    return tuple(sorted(replies, key=lambda m: m.at)), bots


class _Permalinks:
    """Permalinks at one chat.getPermalink per read: Slack's differ only in
    `/archives/<channel>/p<ts>`, so the first one answered is the pattern for the rest. A link of
    another shape (none seen on Slack) is asked for each message instead."""

    def __init__(self, api: SlackApi) -> None:
        self._api = api
        self._pattern: tuple[str, str] | None = None  # (a link, the part naming its message)

    @staticmethod
    def _part(channel: str, ts: str) -> str:
        return f"/archives/{channel}/p{ts.replace('.', '')}"

    def __call__(self, channel: str, ts: str) -> str | None:
        if self._pattern is not None:
            link, part = self._pattern
            return link.replace(part, self._part(channel, ts), 1)
        try:
            link = self._api.permalink(channel, ts)
        except OutsideError as exc:
            get_run_logger().info("No permalink for %s in %s: %s", ts, channel, exc)
            return None
        part = self._part(channel, ts)
        if link.endswith(part):
            self._pattern = (link, part)
        return link


def _oncall_user(api: SlackApi, settings: Settings, person: str | None, email: str | None) -> str | None:
    """The on-call engineer's Slack id: from ONCALL_SLACK_MEMBER_IDS when it names them (no call),
    else by their email (a users.list scan), else None."""
    log = get_run_logger()
    if person and person in settings.slack_member_ids:
        return settings.slack_member_ids[person]
    if not email:
        return None
    try:
        found = api.user_by_email(email)
    except OutsideError as exc:
        log.warning("The on-call engineer's Slack user is unknown, so their replies do not count: %s", exc)
        return None
    return str(found["id"]) if found and found.get("id") else None


def _channel_requests(
    api: SlackApi, channel: str, window: TimeWindow, group_id: str | None, keyword: str | None
) -> list[SlackMessage]:
    raw = api.history(channel, window.start.timestamp(), window.end.timestamp(), inclusive=True)
    found = (message_from_api(channel, r) for r in raw)
    return [
        m
        for m in found
        if m is not None and window.start <= m.at < window.end and is_request(m, group_id, keyword)
    ]


def _read_thread(
    api: SlackApi,
    message: SlackMessage,
    *,
    responders: set[str],
    ack_reactions: Iterable[str],
    permalink: str | None,
    github_host: str,
) -> RequestThread:
    replies: tuple[SlackMessage, ...] = ()
    bots: frozenset[str] = frozenset()
    if message.reply_count > 0:
        with suppress(MessageNotFoundError):  # deleted since the history was read: no replies left
            replies, bots = _thread(message.channel, message.ts, api.replies(message.channel, message.ts))
    request = classify(
        message,
        replies,
        responders=responders,
        ack_reactions=ack_reactions,
        github_host=github_host,
        permalink=permalink,
    )
    return RequestThread(request=request, replies=replies, bot_replies=bots)


def github_host(settings: Settings) -> str:
    """Where issue links point: https://github.com, or a GitHub Enterprise server's pages (the
    same base the runbook's links use)."""
    return runbook_files.web_base(settings.github_base_url)


@task(retries=2, retry_delay_seconds=30, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def read_requests(
    settings: Settings,
    window: TimeWindow,
    now: datetime | None = None,
    oncall: str | None = None,
    oncall_email: str | None = None,
) -> SlackRequests | None:
    """The window's @SRE requests in ONCALL_SRE_CHANNELS, each classified, with its thread; None
    when no Slack bot token is configured (said once, here). `now` ages the report (default: the
    window's end); `oncall` (as the schedule names them) or `oncall_email` finds the on-call
    engineer, whose replies answer a request as the group's members' do."""
    log = get_run_logger()
    with clients(settings) as run:
        if not run.has_slack_api:
            log.info("No Slack bot token (ONCALL_SLACK_BOT_TOKEN) is configured: @SRE requests are not read")
            return None
        api = run.slack_api()
        group_id = api.group_id(settings.sre_group)
        members = set(api.group_members(group_id)) if group_id else set()
        if group_id is None:
            log.warning(
                "Slack has no user group with the handle @%s (ONCALL_SRE_GROUP)%s",
                settings.sre_group.lstrip("@"),
                f"; only the keyword {settings.sre_keyword!r} finds requests"
                if settings.sre_keyword
                else ", and no ONCALL_SRE_KEYWORD is set: no request can be found",
            )
        channels = settings.sre_channels if group_id or settings.sre_keyword else []  # nothing to find
        if not settings.sre_channels:
            log.warning(
                "No channel is configured for @SRE requests: set ONCALL_SRE_CHANNELS to channel ids (C…)"
            )
        oncall_id = _oncall_user(api, settings, oncall, oncall_email) if channels else None
        responders = members | ({oncall_id} if oncall_id else set())
        permalink = _Permalinks(api)
        host = github_host(settings)
        threads: list[RequestThread] = []
        skipped: dict[str, str] = {}
        for channel in channels:
            try:
                found = _channel_requests(api, channel, window, group_id, settings.sre_keyword)
            except (AuthError, NotFoundError) as exc:
                skipped[channel] = str(exc)
                log.warning("Skipping @SRE requests in %s, which the bot cannot read: %s", channel, exc)
                continue
            for message in found:
                threads.append(
                    _read_thread(
                        api,
                        message,
                        responders=responders,
                        ack_reactions=settings.sre_ack_reactions,
                        permalink=permalink(message.channel, message.ts),
                        github_host=host,
                    )
                )
    threads.sort(key=lambda t: (t.message.at, t.message.channel, t.message.ts))
    report = summarize_requests((t.request for t in threads), now or window.end)
    log.info(
        "@SRE requests in %d of %d channel(s): %s",
        len(channels) - len(skipped),
        len(settings.sre_channels),
        ", ".join(f"{n} {s}" for s, n in report.counts.items() if n) or "none",
    )
    return SlackRequests(
        window=window,
        group_id=group_id,
        responders=frozenset(responders),
        threads=tuple(threads),
        skipped=skipped,
        report=report,
    )


class SlackThread(Frozen):
    """One message read again right before a ticket's steps: it, its replies, which of them an
    app posted, and its permalink."""

    message: SlackMessage
    replies: tuple[SlackMessage, ...] = ()
    bot_replies: frozenset[str] = frozenset()
    permalink: str | None = None


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def read_thread(settings: Settings, channel: str, ts: str) -> SlackThread | None:
    """The message and its whole thread (conversations.replies gives the parent first, with its
    reactions), and its permalink; None, said in the log, when it was deleted."""
    with clients(settings) as run:
        api = run.slack_api()
        try:
            raw = api.replies(channel, ts)
            parent = next((r for r in raw if r.get("ts") == ts), None)
            message = message_from_api(channel, parent)
            link = api.permalink(channel, ts) if message is not None else None
        except MessageNotFoundError:
            message = None
    if message is None:
        get_run_logger().info("Skipping the message %s in %s: it was deleted before this run", ts, channel)
        return None
    replies, bots = _thread(channel, ts, raw)
    return SlackThread(message=message, replies=replies, bot_replies=bots, permalink=link)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=outage_only, cache_policy=NO_CACHE)
def sre_group_id(settings: Settings) -> str | None:
    """The SRE user group's id (ONCALL_SRE_GROUP by handle), None when Slack has none."""
    with clients(settings) as run:
        return run.slack_api().group_id(settings.sre_group)


@task(cache_policy=NO_CACHE)
def post_ticket_reply(settings: Settings, channel: str, ts: str, text: str) -> str:
    """Reply in the request's thread; never retried (a lost answer may hide a posted reply: the
    next run finds it by its link). Returns the reply's ts."""
    with clients(settings) as run:
        posted = run.slack_api().post_reply(channel, ts, text)
    get_run_logger().info("Replied in the thread of %s in %s", ts, channel)
    return posted


@task(cache_policy=NO_CACHE)
def add_done_reaction(settings: Settings, channel: str, ts: str) -> None:
    """Mark the request filed with ONCALL_SRE_DONE_REACTION (done already counts as done)."""
    with clients(settings) as run:
        run.slack_api().add_reaction(channel, ts, settings.sre_done_reaction)
    get_run_logger().info("Reacted :%s: on %s in %s", settings.sre_done_reaction.strip(":"), ts, channel)
