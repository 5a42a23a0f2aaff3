from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall import escape
from oncall.sre_requests import (
    DISABLED,
    RequestState,
    SlackMessage,
    SreRequest,
    classify,
    first_line,
    has_ticket_reaction,
    is_done,
    is_request,
    mentions_group,
    message_from_api,
    readable,
    requests_markdown,
    requests_slack_line,
    summarize_requests,
    ts_time,
)

GROUP = "S0SRE"
SRE, ONCALL, ASKER, OTHER, BOT = "USRE1", "UONCALL", "UASKER", "UOTHER", "UBOT"
RESPONDERS = {SRE, ONCALL}
ACKS = ("eyes", "white_check_mark")
T0 = 1_700_000_000
ISSUE = "https://github.com/acme/ops/issues/42"


def raw(ts: float | str, text: str = f"<!subteam^{GROUP}|@sre> db is slow", **fields: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "ts": ts if isinstance(ts, str) else f"{ts:.6f}",
        "user": ASKER,
        "text": text,
        **fields,
    }


def msg(
    ts: float | str = T0, text: str = f"<!subteam^{GROUP}|@sre> db is slow", **fields: Any
) -> SlackMessage:
    m = message_from_api("C1", raw(ts, text, **fields))
    assert m is not None
    return m


def reply(after_s: float, user: str, text: str = "looking") -> SlackMessage:
    return msg(T0 + after_s, text, user=user, thread_ts=f"{T0:.6f}")


def state(parent: SlackMessage, replies: list[SlackMessage] = [], **kw: Any) -> SreRequest:  # noqa: B006
    return classify(parent, replies, responders=RESPONDERS, ack_reactions=ACKS, **kw)


# Parsing the Web API's messages


def test_ts_parses_to_the_microsecond_in_utc() -> None:
    at = ts_time("1700000000.000100")
    assert at == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=1_700_000_000, microseconds=100)
    assert at is not None and at.tzinfo is UTC
    assert msg("1700000000.000100").at == at
    assert ts_time("1700000000") == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize("bad", ["", "abc", "1700000000.", "1e9", "-1.0", "1700000000.0000001", " 1.0"])
def test_a_ts_that_is_not_slacks_reads_as_none(bad: str) -> None:
    assert ts_time(bad) is None
    assert message_from_api("C1", raw(bad)) is None


@pytest.mark.parametrize(
    "thing",
    [
        None,
        "text",
        [],
        3,
        {"text": "no ts"},
        {"ts": 1700000000.1},
        raw(T0, subtype="tombstone"),
        raw(T0, hidden=True),
    ],
)
def test_deleted_and_odd_messages_are_ignored(thing: object) -> None:
    assert message_from_api("C1", thing) is None


def test_odd_fields_read_as_absent() -> None:
    m = message_from_api(
        "C1",
        {
            "ts": "1700000000.000200",
            "user": 7,
            "text": None,
            "reply_count": "3",
            "thread_ts": "",
            "reactions": [{"name": "eyes", "users": [SRE, 5, None]}, {"users": [SRE]}, "eyes", {"name": ""}],
        },
    )
    assert m is not None
    assert (m.user, m.text, m.reply_count, m.thread_ts) == (None, "", 0, None)
    assert [(r.name, r.users) for r in m.reactions] == [("eyes", (SRE,))]
    assert msg(reply_count=True).reply_count == 0
    assert msg(reply_count=4).reply_count == 4


def test_skin_tones_are_one_reaction() -> None:
    m = msg(reactions=[{"name": "eyes::skin-tone-3", "users": [SRE], "count": 1}])
    assert m.reactions[0].name == "eyes"
    assert state(m).state is RequestState.ACKNOWLEDGED


# Finding the requests


@pytest.mark.parametrize(
    "text", [f"<!subteam^{GROUP}|@sre> help", f"hi <!subteam^{GROUP}>, help", f"<!subteam^{GROUP}|>"]
)
def test_the_groups_mention_in_either_form_is_a_request(text: str) -> None:
    assert mentions_group(text, GROUP)
    assert is_request(msg(text=text), GROUP)


@pytest.mark.parametrize(
    "text", ["<!subteam^S0SREX|@sre-x> help", "<!subteam^S1> help", "@sre help", "S0SRE"]
)
def test_another_group_or_plain_text_is_not_the_mention(text: str) -> None:
    assert not mentions_group(text, GROUP)
    assert not mentions_group(text, GROUP, None)
    assert not mentions_group(text, GROUP, "")


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("SRE: help", True),
        ("ping @sre?", True),
        ("ask sre", True),
        ("presre", False),
        ("sres", False),
        ("s-r-e", False),
    ],
)
def test_the_keyword_is_a_whole_word_in_any_case(text: str, hit: bool) -> None:
    assert mentions_group(text, GROUP, "sre") is hit
    assert mentions_group(text, None, "sre") is hit
    assert not mentions_group(text, None, None)


def test_a_keyword_with_regex_characters_is_literal() -> None:
    assert mentions_group("need on-call+ now", None, "on-call+")
    assert not mentions_group("need on-calll now", None, "on-call+")


@pytest.mark.parametrize(
    "fields",
    [
        {"subtype": "bot_message"},
        {"subtype": "channel_join"},
        {"thread_ts": f"{T0 - 60:.6f}"},
        {"thread_ts": f"{T0 - 60:.6f}", "subtype": "thread_broadcast"},
    ],
)
def test_bots_joins_and_thread_replies_are_not_requests(fields: dict[str, Any]) -> None:
    assert not is_request(msg(**fields), GROUP)


def test_a_thread_parent_and_a_file_share_are_requests() -> None:
    assert is_request(msg(thread_ts=f"{T0:.6f}", reply_count=2), GROUP)
    assert is_request(msg(subtype="file_share"), GROUP)


# The state of each request


def test_no_reply_no_reaction_is_unanswered() -> None:
    r = state(msg(), [reply(30, OTHER)])
    assert (r.state, r.answered_by, r.answered_after, r.issue_url) == (
        RequestState.UNANSWERED,
        None,
        None,
        None,
    )


@pytest.mark.parametrize("who", [SRE, ONCALL])
def test_a_responders_reply_answers_and_says_how_fast(who: str) -> None:
    r = state(msg(), [reply(30, OTHER), reply(125.5, who), reply(300, SRE)])
    assert r.state is RequestState.ANSWERED
    assert (r.answered_by, r.answered_after) == (who, timedelta(seconds=125.5))


def test_the_requester_replying_to_themselves_is_not_an_answer() -> None:
    # An SRE asking the group is a requester first: their follow-up answers nothing.
    parent = msg(user=SRE)
    assert state(parent, [reply(10, SRE, "anyone?")]).state is RequestState.UNANSWERED
    assert state(parent, [reply(10, SRE), reply(20, ONCALL)]).answered_by == ONCALL


def test_the_parent_in_its_own_replies_is_not_an_answer() -> None:
    # conversations.replies returns the parent first; a responder who asked must not answer it.
    parent = msg(user=ONCALL, thread_ts=f"{T0:.6f}", reply_count=1)
    r = classify(parent, [parent], responders={ONCALL, SRE}, ack_reactions=ACKS)
    assert r.state is RequestState.UNANSWERED


def test_replies_are_read_in_time_order() -> None:
    r = state(msg(), [reply(600, ONCALL), reply(60, SRE)])
    assert (r.answered_by, r.answered_after) == (SRE, timedelta(seconds=60))


def test_a_responders_ack_reaction_acknowledges() -> None:
    m = msg(reactions=[{"name": "eyes", "users": [OTHER]}, {"name": "white_check_mark", "users": [SRE]}])
    assert state(m).state is RequestState.ACKNOWLEDGED


@pytest.mark.parametrize(
    "reactions",
    [
        [{"name": "eyes", "users": [OTHER, ASKER]}],
        [{"name": "tada", "users": [SRE]}],
        [{"name": "eyes", "users": []}],
    ],
)
def test_an_ack_by_someone_else_or_another_reaction_does_not(reactions: list[dict[str, Any]]) -> None:
    assert state(msg(reactions=reactions)).state is RequestState.UNANSWERED


def test_the_requesters_own_ack_does_not_acknowledge() -> None:
    m = msg(user=SRE, reactions=[{"name": "eyes", "users": [SRE]}])
    assert state(m).state is RequestState.UNANSWERED


def test_an_issue_link_in_a_reply_tracks_and_keeps_the_answer() -> None:
    r = state(msg(), [reply(60, SRE, "on it"), reply(90, OTHER, f"filed <{ISSUE}|acme/ops#42>")])
    assert (r.state, r.issue_url, r.answered_by) == (RequestState.TRACKED, ISSUE, SRE)


def test_an_issue_link_in_the_parent_or_a_filed_issue_tracks() -> None:
    assert state(msg(text=f"<!subteam^{GROUP}> see <{ISSUE}>")).issue_url == ISSUE
    filed = "https://github.com/acme/ops/issues/7"
    r = state(msg(), [reply(9, SRE, f"<{ISSUE}>")], filed_issue_url=filed)
    assert (r.state, r.issue_url) == (RequestState.TRACKED, filed)


@pytest.mark.parametrize(
    "link",
    [
        "https://github.com/acme/ops/pull/42",
        "https://github.com/acme/ops",
        "http://github.com/acme/ops/issues/1",
        "https://github.company.example/acme/ops/issues/1",
        "https://evil.example/github.com/a/b/issues/1",
    ],
)
def test_other_links_do_not_track(link: str) -> None:
    assert state(msg(), [reply(9, OTHER, f"<{link}>")]).state is RequestState.UNANSWERED


def test_an_enterprise_host_tracks_its_own_issues() -> None:
    link = "https://github.company.example/acme/ops/issues/1"
    r = state(msg(), [reply(9, OTHER, f"<{link}>")], github_host="github.company.example")
    assert (r.state, r.issue_url) == (RequestState.TRACKED, link)


def test_a_host_with_its_scheme_and_a_path_tracks_its_own_issues() -> None:
    """The sandbox serves GitHub's pages at http://127.0.0.1:PORT/github."""
    link = "http://127.0.0.1:8000/github/acme/ops/issues/3"
    r = state(msg(), [reply(9, OTHER, f"<{link}|#3>")], github_host="http://127.0.0.1:8000/github")
    assert (r.state, r.issue_url) == (RequestState.TRACKED, link)
    assert state(msg(), [reply(9, OTHER, f"<{link}>")]).state is RequestState.UNANSWERED


def test_precedence_is_tracked_then_answered_then_acknowledged() -> None:
    acked = msg(reactions=[{"name": "eyes", "users": [SRE]}])
    assert state(acked).state is RequestState.ACKNOWLEDGED
    assert state(acked, [reply(5, SRE)]).state is RequestState.ANSWERED
    assert state(acked, [reply(5, SRE)], filed_issue_url=ISSUE).state is RequestState.TRACKED


def test_ticket_and_done_reactions() -> None:
    m = msg(reactions=[{"name": "ticket", "users": [OTHER]}, {"name": "white_check_mark", "users": [SRE]}])
    assert has_ticket_reaction(m, "ticket") and has_ticket_reaction(m, ":ticket:")
    assert not has_ticket_reaction(msg(), "ticket")
    assert not is_done(m, "white_check_mark", BOT)  # a person's ✅ is no filed issue
    done = msg(reactions=[{"name": "white_check_mark", "users": [SRE, BOT]}])
    assert is_done(done, "white_check_mark", BOT)
    assert not is_done(done, "ticket", BOT)


# Text


def test_readable_shows_slacks_markup_as_people_saw_it() -> None:
    text = f"<!subteam^{GROUP}|@sre> <@U1> <!here> <#C9|ops> <https://x.example/a?b=1&amp;c|the doc> &lt;b&gt; &amp;lt;"
    assert readable(text) == "@sre @U1 @here #ops the doc <b> &lt;"
    assert readable(
        "<!here|@here> <!channel> <@U1|bob> <!subteam^S1> <!date^1392734382^{date}|Feb 18> <mailto:a@b.c|mail>"
    ) == ("@here @channel @bob @S1 Feb 18 mail")
    assert first_line("\n  \n  <!channel> first  \nsecond") == "@channel first"


# The report and its rendering


def _requests() -> list[SreRequest]:
    return [
        state(msg(T0 + 3600, "<!subteam^S0SRE> newer"), permalink="https://acme.slack.com/archives/C1/p2"),
        state(msg(T0, "<!subteam^S0SRE> older"), permalink="https://acme.slack.com/archives/C1/p1"),
        state(msg(T0 + 60), [reply(70, SRE)]),
        state(msg(T0 + 120), filed_issue_url=ISSUE),
        state(msg(T0 + 180, reactions=[{"name": "eyes", "users": [ONCALL]}])),
    ]


def test_the_report_counts_every_state_and_lists_the_unanswered_oldest_first() -> None:
    now = datetime.fromtimestamp(T0, UTC) + timedelta(hours=5)
    report = summarize_requests(_requests(), now)
    assert report.counts == {s: 1 for s in RequestState} | {RequestState.UNANSWERED: 2}
    assert report.total == 5
    assert [p.request.first_line for p in report.pickup] == ["@S0SRE older", "@S0SRE newer"]
    assert [p.age for p in report.pickup] == [timedelta(hours=5), timedelta(hours=4)]
    empty = summarize_requests([], now)
    assert empty.counts == dict.fromkeys(RequestState, 0) and empty.pickup == ()


def test_markdown_and_slack_show_counts_ages_and_links() -> None:
    report = summarize_requests(_requests(), datetime.fromtimestamp(T0, UTC) + timedelta(hours=5))
    md = "\n".join(requests_markdown(report))
    assert "## @SRE requests" in md and "| unanswered | 2 |" in md and "| answered | 1 |" in md
    assert "| 5h 00m | [open](https://acme.slack.com/archives/C1/p1) | C1 | UASKER | @S0SRE older |" in md
    assert md.index("older") < md.index("newer")
    line = requests_slack_line(report)
    assert "1 answered" in line and "2 unanswered" in line
    link = escape.slack_link("@S0SRE older", "https://acme.slack.com/archives/C1/p1", 80)
    assert line.endswith(f"oldest unanswered 5h 00m: {link}")


def test_nothing_to_pick_up_says_so() -> None:
    report = summarize_requests([state(msg(), [reply(5, SRE)])], datetime.fromtimestamp(T0 + 60, UTC))
    assert "Every request was answered, acknowledged or tracked." in requests_markdown(report)
    assert "oldest" not in requests_slack_line(report)


def test_without_a_bot_token_the_section_says_so_once() -> None:
    md = requests_markdown(None)
    assert md.count(DISABLED) == 1 and "| state |" not in "\n".join(md)
    assert "no Slack bot token configured" in requests_slack_line(None)


HOSTILE = "<!channel> &lt;!here&gt; @here <@U1> [click](http://evil.example) <img src=x> `x` *b* | # h "


def test_hostile_request_text_is_escaped_and_cut_where_it_lands() -> None:
    text = HOSTILE + "y" * 10_000
    req = state(msg(text=text), permalink="https://acme.slack.com/archives/C1/p1")
    assert req.first_line.startswith("@channel <!here> @here @U1 [click]")  # raw in the model
    report = summarize_requests([req], datetime.fromtimestamp(T0 + 60, UTC))

    row = next(line for line in requests_markdown(report) if "acme.slack.com" in line)
    cell = row.rsplit(" | ", 1)[1].removesuffix(" |")
    assert (
        cell == escape.prefect_md(req.first_line, 150) and len(cell) <= 150 and cell.endswith(escape.MARKER)
    )
    assert row.count(" | ") == 4 and not re.search(r"(?<!\\)\|", cell)  # one table row: no cell breakout
    assert not re.search(r"(?<!\\)[<\[`*]", cell)  # no HTML, link, code or emphasis starts unescaped
    assert "http\\://evil" in cell  # no autolink either

    line = requests_slack_line(report)
    assert len(line) < 400
    assert not re.search(r"<!|<@|<img|<http://evil", line)
    assert "@\u200bhere" in line and "@\u200bchannel" in line
    assert "`" not in line and "*b*" not in line
