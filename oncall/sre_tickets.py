"""An @SRE request turned into a GitHub issue by its ticket reaction: exactly once per message.

Pure. A ticket is three writes, each found again on its own before it is made, so a run that
died after any of them finishes the rest and repeats none:
1. the issue, found by its marker (the message's channel and ts) through the one filing
   lifecycle (`oncall.filing`), which also finds an issue whose create answer was lost;
2. the reply in the thread with the issue's link, found as an app's reply holding that link;
3. the done reaction, found as the bot's own on the message (the bot is the user who posted
   that reply; until it has replied, the reaction is added, and Slack's `already_reacted` is
   done).

The message and its replies are untrusted: they land in the issue through `readable` (Slack's
markup as people saw it) and `escape.md` (no pings, no HTML, no markdown breakout, no issue
references), and the body is cut to GitHub's limit after escaping, its marker first so the
cut never drops it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import ClassVar
from urllib.parse import quote

from oncall import escape
from oncall.clock import fmt_local
from oncall.filing import Act, Filing, Found, Marker, Wanted, plan
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.models import Frozen, IssueRef
from oncall.sre_requests import SlackMessage, first_line, readable

REPLIES_SHOWN = 50
TEXT_LIMIT = 20_000  # escaped characters of the request's text; Slack's own cap is 40,000 typed


class RequestMarker(Marker):
    """The Slack message an issue was filed for."""

    namespace: ClassVar[str] = "oncall-flows:sre-request"

    channel: str
    ts: str

    @property
    def key(self) -> str:
        return request_key(self.channel, self.ts)


def request_key(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def ticket_title(message: SlackMessage) -> str:
    return escape.plain(f"SRE request: {first_line(message.text) or '(no text)'}", TITLE_LIMIT)


def _link(label: str, url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return escape.md(label, 100)
    return f"[{escape.md(label, 100)}]({quote(url, safe=':/?&=#%')})"


def _quoted(text: str, limit: int) -> list[str]:
    """The text as a markdown quote, its lines kept, each escaped; at most `limit` characters
    of escaped text in all."""
    out: list[str] = []
    room = limit
    for line in readable(text).split("\n"):
        if room <= 0:
            out.append("> …")
            break
        safe = escape.md(line, room)
        room -= len(safe)
        out.append(f"> {safe}" if safe else ">")
    return out or [">"]


def _reply_line(reply: SlackMessage, tz: str, name: Mapping[str, str]) -> str:
    who = escape.md(name.get(reply.user or "", reply.user or "someone"), 80)
    return f"- **{who}** · {fmt_local(reply.at, tz)}: {escape.md(readable(reply.text), 1_000)}"


def ticket_body(
    message: SlackMessage,
    replies: Sequence[SlackMessage],
    permalink: str | None,
    requester: str | None,
    *,
    tz: str = "UTC",
    names: Mapping[str, str] | None = None,
) -> str:
    """The issue's body: who asked, where and when, the request's text, and the thread's replies
    so far, as many as fit whole. `names` are people's names by Slack user id, where the
    settings know them."""
    names = names or {}
    thread = sorted((r for r in replies if r.ts != message.ts), key=lambda r: r.at)
    who = requester or names.get(message.user or "", message.user or "someone")
    parts = [
        RequestMarker(channel=message.channel, ts=message.ts).encode(),
        f"**SRE request** from **{escape.md(who, 80)}** in {escape.md(message.channel, 40)} "
        f"at {fmt_local(message.at, tz)}: {_link('open in Slack', permalink)}",
        "",
        *_quoted(message.text, TEXT_LIMIT),
        "",
        f"### Replies so far ({len(thread)})",
        "",
    ]
    footer = [
        "",
        "_Filed by oncall-flows from the ticket reaction on the Slack message; later replies stay in the thread._",
    ]
    # Whole reply lines while they fit, so the cut to GitHub's limit never splits one.
    room = BODY_LIMIT - 200 - len("\n".join([*parts, *footer]))
    shown = 0
    for r in thread[:REPLIES_SHOWN]:
        line = _reply_line(r, tz, names)
        if len(line) + 1 > room:
            break
        parts.append(line)
        room -= len(line) + 1
        shown += 1
    if not thread:
        parts.append("None yet.")
    elif shown < len(thread):
        parts.append(f"- …and {len(thread) - shown} more in the thread")
    parts += footer
    return escape.cut("\n".join(parts), BODY_LIMIT - 100, "\n\n…(cut to GitHub's limit)")


def ticket_reply(issue: IssueRef, repo: str) -> str:
    """The thread's reply: the issue's link, which is how a later run knows it was said."""
    return (
        f"Filed as {escape.slack_link(f'{repo}#{issue.number}', issue.html_url, 120)}; it is tracked there."
    )


def replied(
    issue_url: str, replies: Sequence[SlackMessage], bot_replies: Collection[str]
) -> SlackMessage | None:
    """The app's reply that holds the issue's link, if one was posted."""
    return next((r for r in replies if r.ts in bot_replies and issue_url in r.text), None)


class TicketPlan(Frozen):
    """What is still to do for one request's ticket, in order; nothing when it is all done."""

    key: str
    wanted: Wanted | None = None  # the issue to file: none has the marker yet
    issue: IssueRef | None = None  # the issue that has it
    reply: bool = False  # post the issue's link in the thread
    react: bool = False  # add the done reaction

    @property
    def filing(self) -> Filing | None:
        """The create step for the applier (`tasks.github.apply_filing`)."""
        if self.wanted is None:
            return None
        return Filing(act=Act.CREATE, want=self.wanted, reason=self.wanted.reason(Act.CREATE))

    @property
    def done(self) -> bool:
        return self.wanted is None and not self.reply and not self.react

    @property
    def steps(self) -> list[str]:
        return [
            name
            for name, todo in (("file", self.wanted), ("reply", self.reply), ("react", self.react))
            if todo
        ]


def ticket_wanted(
    message: SlackMessage,
    replies: Sequence[SlackMessage],
    *,
    label: str,
    permalink: str | None,
    requester: str | None = None,
    tz: str = "UTC",
    names: Mapping[str, str] | None = None,
) -> Wanted:
    key = request_key(message.channel, message.ts)
    return Wanted(
        key=key,
        marker=RequestMarker,
        name=f"@SRE request {key}",
        title=ticket_title(message),
        body=ticket_body(message, replies, permalink, requester, tz=tz, names=names),
        labels=(label,),
        reasons={Act.CREATE: "ticket reaction on an @SRE request"},
    )


def plan_ticket(
    message: SlackMessage,
    replies: Sequence[SlackMessage],
    bot_replies: Collection[str],
    found: Mapping[str, Found[RequestMarker]],
    *,
    label: str,
    done_reaction: str,
    permalink: str | None,
    requester: str | None = None,
    tz: str = "UTC",
    names: Mapping[str, str] | None = None,
) -> TicketPlan:
    """The steps still to do for `message`'s ticket. `found` is the label's issues by marker
    (`index_issues(…, RequestMarker)`), `replies` its thread (the parent may be among them) and
    `bot_replies` the ts of those an app posted."""
    key = request_key(message.channel, message.ts)
    thread = [r for r in replies if r.ts != message.ts]
    # Any state counts as filed: an issue closed (done, or not planned) was filed for this message.
    existing = found.get(key)
    if existing is None:
        wanted = ticket_wanted(
            message, thread, label=label, permalink=permalink, requester=requester, tz=tz, names=names
        )
        create = next((s for s in plan([wanted], found, cap=1) if s.act is Act.CREATE), None)
        assert create is not None  # nothing has the marker, so the lifecycle files it
        return TicketPlan(key=key, wanted=create.want, reply=True, react=True)
    reply = replied(existing.issue.html_url, thread, bot_replies)
    done = done_reaction.strip(":")
    reacted = reply is not None and any(r.name == done and reply.user in r.users for r in message.reactions)
    return TicketPlan(key=key, issue=existing.issue, reply=reply is None, react=not reacted)
