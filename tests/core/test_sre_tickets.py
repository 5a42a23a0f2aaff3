"""An @SRE request's ticket, pure: the marker, the issue's text from hostile Slack text, and the
plan that repeats no step of a ticket and finishes any step a dead run left."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from oncall.filing import Act, index_issues
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.gaps import GapMarker
from oncall.models import IssueRef
from oncall.sre_requests import SlackMessage, issue_urls, message_from_api
from oncall.sre_tickets import (
    RequestMarker,
    plan_ticket,
    replied,
    request_key,
    ticket_body,
    ticket_reply,
    ticket_title,
)

CHANNEL, TS = "C0HELP", "1700000000.000100"
ASKER, HELPER, BOT = "U0ASKER", "U0HELPER", "U0BOT"
REPO, LABEL, DONE = "acme/ops", "sre-request", "white_check_mark"
LINK = "https://acme.slack.com/archives/C0HELP/p1700000000000100"
# A GitHub mention or issue reference that would ping or link: `@x` / `#1` / `GH-1` with no ZWSP.
PINGS = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])|#(?=[0-9])|(?<![A-Za-z0-9])GH-(?=[0-9])")


def message(text: str = "<!subteam^S0SRE|@sre> the db is slow", ts: str = TS, **fields: Any) -> SlackMessage:
    m = message_from_api(CHANNEL, {"ts": ts, "user": ASKER, "text": text, **fields})
    assert m is not None
    return m


def reply(n: int, text: str, user: str = HELPER) -> SlackMessage:
    return message(text, ts=f"1700000000.{n + 200:06d}", user=user, thread_ts=TS)


def issue(number: int = 7, body: str | None = None, **fields: Any) -> IssueRef:
    if body is None:
        body = RequestMarker(channel=CHANNEL, ts=TS).encode() + "\nwhatever people wrote since"
    return IssueRef(
        number=number,
        title="SRE request",
        body=body,
        state=fields.pop("state", "open"),
        html_url=f"https://github.com/{REPO}/issues/{number}",
        **fields,
    )


def plan(parent: SlackMessage, replies: list[SlackMessage], bots: set[str], issues: list[IssueRef]) -> Any:
    return plan_ticket(
        parent,
        replies,
        bots,
        index_issues(issues, RequestMarker),
        label=LABEL,
        done_reaction=f":{DONE}:",
        permalink=LINK,
    )


def test_the_marker_is_the_message_and_no_other_marker_reads_as_it() -> None:
    mine = RequestMarker(channel=CHANNEL, ts=TS)
    assert mine.key == request_key(CHANNEL, TS) == f"{CHANNEL}:{TS}"
    other = RequestMarker(channel=CHANNEL, ts="1700000000.000101")
    found = index_issues([issue(3, other.encode()), issue(5)], RequestMarker)
    assert set(found) == {mine.key, other.key} and found[mine.key].issue.number == 5
    gap = GapMarker(fp=mine.key, kind="k", sample="s", last=datetime(2026, 1, 1, tzinfo=UTC)).encode()
    assert index_issues([issue(9, gap)], RequestMarker) == {}  # another flow's issue, same key


def test_hostile_text_lands_escaped_and_pings_nobody() -> None:
    hostile = (
        "<!channel> <!here> <@U0BOSS> ask @team and @octocat about #12 and GH-3\n"
        "**bold** [click](javascript:alert(1)) <https://evil.example|totally safe> <script>x</script>\n"
        "```\n| a | b |\n# heading\n" + RequestMarker(channel=CHANNEL, ts="1700000000.000999").encode()
    )
    parent = message(hostile)
    body = ticket_body(parent, [reply(1, "<!everyone> cc @admins see #99 <b>now</b>")], LINK, "Ann")
    title = ticket_title(parent)

    shown = body.split("\n", 1)[1]  # past the marker
    assert PINGS.search(shown) is None and PINGS.search(title) is None
    assert "<" not in shown and "](javascript" not in shown
    quoted = shown.split("\n\n", 1)[1].split("\n\n### Replies", 1)[0].split("\n")
    assert len(quoted) == 6 and all(line.startswith(">") for line in quoted)  # no heading, table, fence
    assert "@\u200bchannel" in shown and "@\u200bteam" in shown  # what people saw, defused
    # The hostile text's own marker is text now: only the message's marker reads from the body.
    assert [m.key for _, m in RequestMarker.read(body)] == [request_key(CHANNEL, TS)]
    assert f"]({LINK})" in body and "**Ann**" in body
    assert len(title) <= TITLE_LIMIT


def test_very_long_text_is_cut_after_escaping_and_keeps_its_marker() -> None:
    parent = message("&lt;&amp;&gt;" * 40_000)  # as Slack's API sends `<&>`
    replies = [reply(n, "&" * 3_000) for n in range(60)]
    body = ticket_body(parent, replies, LINK, None)
    assert len(body) <= BODY_LIMIT - 100 and "more in the thread" in body
    assert RequestMarker.first(body) == RequestMarker(channel=CHANNEL, ts=TS)
    assert re.search(r"&(?!lt;|gt;|amp;)", body) is None  # no entity split by a cut
    assert "&lt;&amp;&gt;" in body
    assert len(ticket_title(message("x" * 5_000))) <= TITLE_LIMIT


def test_a_new_request_plans_all_three_steps_with_the_marker_in_the_body() -> None:
    parent = message(reactions=[{"name": "ticket", "users": [ASKER]}])
    todo = plan(
        parent, [reply(1, "looking")], set(), [issue(4, RequestMarker(channel="C0ELSE", ts=TS).encode())]
    )
    assert todo.steps == ["file", "reply", "react"] and not todo.done
    filing = todo.filing
    assert filing is not None and filing.act is Act.CREATE and filing.want.labels == (LABEL,)
    assert RequestMarker.first(filing.want.body) == RequestMarker(channel=CHANNEL, ts=TS)
    assert "looking" in filing.want.body


def test_each_step_is_found_again_on_its_own() -> None:
    filed = issue(7)
    said = ticket_reply(filed, REPO)
    bot_reply = reply(2, said, user=BOT)
    bare = message(reactions=[{"name": "ticket", "users": [ASKER]}])
    reacted = message(reactions=[{"name": "ticket", "users": [ASKER]}, {"name": DONE, "users": [BOT]}])
    by_a_person = message(reactions=[{"name": DONE, "users": [HELPER]}])

    # died after the issue: reply and react, never file again
    assert plan(bare, [], set(), [filed]).steps == ["reply", "react"]
    # died after the reply: react only
    assert plan(bare, [bot_reply], {bot_reply.ts}, [filed]).steps == ["react"]
    # all done: nothing, whatever the issue's state since
    assert plan(reacted, [bot_reply], {bot_reply.ts}, [filed]).done
    assert plan(
        reacted, [bot_reply], {bot_reply.ts}, [issue(7, state="closed", state_reason="not_planned")]
    ).done
    # a person's ✅ is not the bot's, and a person pasting the link is not the flow's reply
    assert plan(by_a_person, [bot_reply], {bot_reply.ts}, [filed]).steps == ["react"]
    pasted = reply(3, filed.html_url, user=HELPER)
    assert plan(reacted, [pasted], set(), [filed]).steps == ["reply", "react"]
    # the app's reply for another issue does not count for this one
    other = reply(4, ticket_reply(issue(8), REPO), user=BOT)
    assert plan(reacted, [other], {other.ts}, [filed]).steps == ["reply", "react"]


def test_the_reply_carries_the_link_a_later_run_looks_for() -> None:
    filed = issue(12)
    text = ticket_reply(filed, REPO)
    posted = reply(5, text, user=BOT)
    assert replied(filed.html_url, [posted], {posted.ts}) == posted
    assert issue_urls(text) == [filed.html_url]  # the request reads as tracked by it
    assert text.startswith(f"Filed as <{filed.html_url}|{REPO}")  # a Slack link, not escaped text
