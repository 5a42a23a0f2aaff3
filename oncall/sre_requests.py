"""@SRE requests on Slack: which messages ask the SRE group for help, and whether each one was
answered, acknowledged, tracked as a GitHub issue, or left for the next engineer.

Pure: the flow gathers the messages (conversations.history and .replies, as the Web API returns
them), this module decides, and the hand-off renders. Slack's JSON is parsed here, tolerantly:
a field of the wrong type reads as absent, and a message with no usable `ts` (or one deleted)
is no message at all.

The message text is untrusted and kept raw in the models; `readable` turns Slack's markup into
the words a person saw, and each renderer escapes that for where it lands.

Decisions the issue left open:
- Only a responder's ack reaction acknowledges (a member of the SRE group or the on-call
  engineer, never the requester): anyone can add 👀, and a requester's own ✅ would hide a
  request nobody on the team has seen.
- Anyone's ticket reaction asks for an issue: the requester is who most wants one.
- A thread reply (even one broadcast to the channel) is part of its thread, never a request.
- "Needs pickup" is unanswered only: an acknowledged request has an owner who saw it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from oncall import escape
from oncall.clock import fmt_duration, fmt_local
from oncall.models import Frozen, OnCall

MD_ROWS = 25
# Subtypes a person types a request with; any other (bot_message, channel_join, topic changes…)
# is Slack or an integration speaking.
REQUEST_SUBTYPES = frozenset({None, "file_share", "me_message"})
# A deleted message: a thread parent stays as a tombstone while its replies live.
_GONE = frozenset({"tombstone", "message_deleted"})
_TS = re.compile(r"\A([0-9]{1,12})(?:\.([0-9]{1,6}))?\Z")
# Slack's markup in message text: <@U1>, <!here>, <!subteam^S1|@sre>, <#C1|general>, <url|label>.
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SPECIAL = frozenset({"!here", "!channel", "!everyone"})
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


class SlackReaction(Frozen):
    name: str  # without colons or skin tone: "+1", not "+1::skin-tone-2"
    users: tuple[str, ...] = ()


class SlackMessage(Frozen):
    channel: str
    ts: str
    user: str | None = None
    text: str = ""
    thread_ts: str | None = None
    reply_count: int = 0
    reactions: tuple[SlackReaction, ...] = ()
    subtype: str | None = None
    at: datetime


def ts_time(ts: str) -> datetime | None:
    """A Slack `ts` ("1700000000.000100") as UTC, to the microsecond: parsed as digits, since a
    float rounds the last one. None for anything else."""
    m = _TS.match(ts)
    if m is None:
        return None
    micros = int((m.group(2) or "0").ljust(6, "0"))
    return datetime.fromtimestamp(int(m.group(1)), UTC) + timedelta(microseconds=micros)


def _str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def _reactions(raw: object) -> tuple[SlackReaction, ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for r in raw:
        if isinstance(r, dict) and isinstance(name := r.get("name"), str) and name:
            users = r.get("users")
            ids = tuple(u for u in users if isinstance(u, str)) if isinstance(users, list) else ()
            out.append(SlackReaction(name=name.split("::")[0], users=ids))
    return tuple(out)


def message_from_api(channel: str, raw: object) -> SlackMessage | None:
    """One message of conversations.history or .replies; None when it is not one (not an object,
    no valid `ts`, deleted)."""
    if not isinstance(raw, dict) or (ts := _str(raw, "ts")) is None or (at := ts_time(ts)) is None:
        return None
    subtype = _str(raw, "subtype")
    if subtype in _GONE or raw.get("hidden") is True:
        return None
    count = raw.get("reply_count")
    return SlackMessage(
        channel=channel,
        ts=ts,
        user=_str(raw, "user"),
        text=raw["text"] if isinstance(raw.get("text"), str) else "",
        thread_ts=_str(raw, "thread_ts"),
        reply_count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0,
        reactions=_reactions(raw.get("reactions")),
        subtype=subtype,
        at=at,
    )


def mentions_group(text: str, group_id: str | None, keyword: str | None = None) -> bool:
    """Whether the text asks the group: its mention (`<!subteam^ID>`, or `<!subteam^ID|@handle>`
    as clients send it), or the keyword as a whole word in any case. None or "" turns either off."""
    if group_id and re.search(rf"<!subteam\^{re.escape(group_id)}(?:\|[^<>]*)?>", text):
        return True
    return bool(keyword) and re.search(rf"(?<!\w){re.escape(keyword or '')}(?!\w)", text, re.I) is not None


def is_request(message: SlackMessage, group_id: str | None, keyword: str | None = None) -> bool:
    """A person's own message (not a thread reply, not a bot or a join) that asks the group."""
    top_level = message.thread_ts is None or message.thread_ts == message.ts
    return (
        top_level and message.subtype in REQUEST_SUBTYPES and mentions_group(message.text, group_id, keyword)
    )


def _reacted(message: SlackMessage, names: Iterable[str]) -> list[SlackReaction]:
    wanted = {n.strip(":") for n in names}
    return [r for r in message.reactions if r.name in wanted]


def has_ticket_reaction(message: SlackMessage, reaction: str) -> bool:
    """Someone asked for a GitHub issue."""
    return bool(_reacted(message, [reaction]))


def is_done(message: SlackMessage, done_reaction: str, bot_user_id: str) -> bool:
    """The bot marked it filed. Only the bot's own reaction counts: a person's ✅ is not a filed issue."""
    return any(bot_user_id in r.users for r in _reacted(message, [done_reaction]))


def readable(text: str) -> str:
    """Slack's markup as a person saw it (`@sre`, `@here`, a link's label, `<` for `&lt;`): still
    untrusted, for an escaper to make safe where it lands."""

    def one(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2) or ""
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith(("@", "!subteam^")):
            return "@" + (label or target.split("^")[-1]).lstrip("@")
        if target.split("^")[0] in _SPECIAL:
            return "@" + (label or target[1:]).lstrip("@")
        return label or ("" if target.startswith("!") else target)  # <!date^…|fallback>, <url|label>

    out = _MARKUP.sub(one, text)
    for entity, char in _ENTITIES:
        out = out.replace(entity, char)
    return out


def first_line(text: str) -> str:
    """The first line with words in it, readable and raw."""
    return next((line.strip() for line in readable(text).splitlines() if line.strip()), "")


class RequestState(StrEnum):
    ANSWERED = "answered"
    ACKNOWLEDGED = "acknowledged"
    TRACKED = "tracked"
    UNANSWERED = "unanswered"


class SreRequest(Frozen):
    message: SlackMessage
    state: RequestState
    answered_by: str | None = None  # kept when tracked too: who answered and how fast
    answered_after: timedelta | None = None
    issue_url: str | None = None
    permalink: str | None = None
    first_line: str = ""  # untrusted; escape it where it lands

    @property
    def requester(self) -> str | None:
        return self.message.user


def engineer(on_call: OnCall) -> tuple[str | None, str | None]:
    """The on-call engineer as the schedule names them, and their email when the name is one
    (OpsGenie names people by their login email): whose replies answer a request as the SRE
    group's members' do."""
    name = on_call.people[0].name if on_call.people else None
    return name, name if name and "@" in name else None


def issue_urls(text: str, github_host: str = "github.com") -> list[str]:
    """GitHub issue links in the text (Slack wraps them as `<url>` or `<url|label>`); pull
    requests and other pages are not issues. The host is https unless it names its scheme, and
    may carry a path: a GitHub Enterprise behind a prefix, the sandbox's `http://127.0.0.1:8000/github`."""
    web = github_host.rstrip("/") if "://" in github_host else f"https://{github_host.rstrip('/')}"
    return re.findall(rf"{re.escape(web)}/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/issues/[0-9]+(?![0-9])", text, re.I)


def classify(
    message: SlackMessage,
    replies: Sequence[SlackMessage],
    *,
    responders: set[str],
    ack_reactions: Iterable[str],
    filed_issue_url: str | None = None,
    github_host: str = "github.com",
    permalink: str | None = None,
) -> SreRequest:
    """The request's state: tracked > answered > acknowledged > unanswered. `responders` are the
    SRE group's members and the on-call engineer; the requester never answers or acknowledges
    their own request. `replies` may hold the parent, as conversations.replies returns it."""
    thread = sorted((r for r in replies if r.ts != message.ts), key=lambda r: r.at)
    helpers = responders - {message.user} if message.user else responders
    answer = next((r for r in thread if r.user in helpers), None)
    links = [u for m in (message, *thread) for u in issue_urls(m.text, github_host)]
    issue = filed_issue_url or next(iter(links), None)
    if issue:
        state = RequestState.TRACKED
    elif answer:
        state = RequestState.ANSWERED
    elif any(set(r.users) & helpers for r in _reacted(message, ack_reactions)):
        state = RequestState.ACKNOWLEDGED
    else:
        state = RequestState.UNANSWERED
    return SreRequest(
        message=message,
        state=state,
        answered_by=answer.user if answer else None,
        answered_after=answer.at - message.at if answer else None,
        issue_url=issue,
        permalink=permalink,
        first_line=first_line(message.text),
    )


class Pickup(Frozen):
    request: SreRequest
    age: timedelta


class RequestsReport(Frozen):
    counts: dict[RequestState, int]
    pickup: tuple[Pickup, ...]  # unanswered, oldest first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def summarize_requests(requests: Iterable[SreRequest], now: datetime) -> RequestsReport:
    """Counts for every state (zeros too, so the table's rows never move), and what the incoming
    engineer must pick up, aged at `now` (the shift's end, so every render reads the same)."""
    reqs = list(requests)
    counts = {s: sum(r.state is s for r in reqs) for s in RequestState}
    waiting = sorted(
        (r for r in reqs if r.state is RequestState.UNANSWERED),
        key=lambda r: (r.message.at, r.message.channel, r.message.ts),
    )
    return RequestsReport(
        counts=counts, pickup=tuple(Pickup(request=r, age=now - r.message.at) for r in waiting)
    )


DISABLED = "No Slack bot token is configured, so @SRE requests are not read."
LISTED = 200  # rows of the full listing; the counts above it hold the rest


def listing_markdown(requests: Sequence[SreRequest], now: datetime, tz: str) -> list[str]:
    """Every request of the window with its state, for `oncall requests` and the sweep's report:
    when, how long ago, where, who asked, who answered and how fast, its issue."""
    out = ["", f"## Every request ({len(requests)})", ""]
    if not requests:
        return [*out, "No @SRE request in the window."]
    out += ["| state | asked | ago | channel | requester | answered by | after | issue | request |"]
    out += ["|---|---|---|---|---|---|---|---|---|"]
    for r in requests[:LISTED]:
        m = r.message
        cells = (
            r.state.value,
            escape.prefect_link(fmt_local(m.at, tz), r.permalink) if r.permalink else fmt_local(m.at, tz),
            fmt_duration(now - m.at),
            escape.prefect_md(m.channel, 40),
            escape.prefect_md(m.user or "unknown", 40),
            escape.prefect_md(r.answered_by or "", 40),
            fmt_duration(r.answered_after) if r.answered_after is not None else "",
            escape.prefect_link("issue", r.issue_url, 10) if r.issue_url else "",
            escape.prefect_md(r.first_line, 150),
        )
        out.append("| " + " | ".join(cells) + " |")
    if len(requests) > LISTED:
        out.append(f"\n…and {len(requests) - LISTED} more requests.")
    return out


def requests_markdown(report: RequestsReport | None) -> list[str]:
    """The hand-off's section. The hand-off is a Prefect artifact, so text goes through
    `prefect_md` and links through `prefect_link` (GitHub's `md` leaves autolinks that the
    Prefect UI makes)."""
    out = ["", "## @SRE requests", ""]
    if report is None:
        return [*out, DISABLED]
    out += ["| state | requests |", "|---|---|", *(f"| {s} | {n} |" for s, n in report.counts.items())]
    out += ["", f"### To pick up ({len(report.pickup)})", ""]
    if not report.pickup:
        return [*out, "Every request was answered, acknowledged or tracked."]
    # As in the hand-off's other tables: short cells first, the long untrusted text last.
    out += ["| waiting | message | channel | requester | request |", "|---|---|---|---|---|"]
    for p in report.pickup[:MD_ROWS]:
        m = p.request.message
        cells = (
            fmt_duration(p.age),
            escape.prefect_link("open", p.request.permalink) if p.request.permalink else "",
            escape.prefect_md(m.channel, 40),
            escape.prefect_md(m.user or "unknown", 40),
            escape.prefect_md(p.request.first_line, 150),
        )
        out.append("| " + " | ".join(cells) + " |")
    if len(report.pickup) > MD_ROWS:
        out.append(f"\n…and {len(report.pickup) - MD_ROWS} more requests.")
    return out


def requests_slack_line(report: RequestsReport | None) -> str:
    """One mrkdwn line for the hand-off message: the counts, and the oldest request waiting."""
    if report is None:
        return "*@SRE requests:* no Slack bot token configured"
    counts = " · ".join(f"{n} {s}" for s, n in report.counts.items() if n) or "none"
    line = f"*@SRE requests:* {counts}"
    if report.pickup:
        oldest = report.pickup[0]
        text = escape.slack_link(oldest.request.first_line or "(no text)", oldest.request.permalink, 80)
        line += f" · oldest unanswered {fmt_duration(oldest.age)}: {text}"
    return line
