"""The @SRE requests read (`read_requests.fn`, no Prefect server) against the Slack API fake:
the issue's budget counted in the fake, states from the seeded threads, a channel the bot was
never invited to skipped with its fix named, and no read at all without a bot token."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prefect.logging import disable_run_logger

from oncall.clients.slack_api import PAGE, SlackApi
from oncall.models import TimeWindow
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.slack_api_fake import SlackApiState
from oncall.settings import Settings, load_settings
from oncall.sre_requests import RequestState
from tasks.slack_requests import read_requests, read_thread

TOKEN = "xoxb-canary-requests-task-3c9d"
CHANNELS = ("C0REQA", "C0REQB", "C0REQC")
UNINVITED = "C0REQNOPE"
PER_CHANNEL = 5000
START = 1_750_000_000
SRE, MEMBER, ONCALL, ASKER = "S0SREQ", "U0MEMBER", "U0ONCALL", "U0ASKER"
WINDOW = TimeWindow(
    start=datetime.fromtimestamp(START, UTC), end=datetime.fromtimestamp(START + PER_CHANNEL, UTC)
)


def _message(ts: str, text: str, user: str = ASKER, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": user, "text": text, **extra}


def _seeded() -> tuple[SlackApiState, dict[RequestState, int], int]:
    """Three busy channels: every 100th message asks @sre, and the requests take turns at being
    answered in the thread (by a member, or by the on-call engineer), acknowledged by a member's
    👀, tracked by an issue link in the thread, answered only by the requester themselves, or
    left alone. Returns the state, the states seeded and how many request threads have replies."""
    api = SlackApiState(token=TOKEN)
    api.add_usergroup(SRE, "sre", [MEMBER])
    api.add_user(ONCALL, "oncall", "oncall@example.com")
    want = dict.fromkeys(RequestState, 0)
    threads = 0
    for channel in CHANNELS:
        api.add_channel(channel, channel.lower())
        rows: list[dict[str, Any]] = [_message(f"{START - 10}.000001", f"<!subteam^{SRE}> before the window")]
        for n in range(PER_CHANNEL):
            ts = f"{START + n}.000100"
            if n % 100:
                rows.append(_message(ts, f"chatter {n}"))
                continue
            turn = (n // 100) % 6
            replies: list[dict[str, Any]] = []
            reactions: list[dict[str, Any]] = []
            if turn == 0:
                replies = [_message(f"{START + n}.000200", "looking", MEMBER, thread_ts=ts)]
                want[RequestState.ANSWERED] += 1
            elif turn == 1:
                replies = [_message(f"{START + n}.000200", "on it", ONCALL, thread_ts=ts)]
                want[RequestState.ANSWERED] += 1
            elif turn == 2:
                reactions = [{"name": "eyes", "users": [MEMBER], "count": 1}]
                want[RequestState.ACKNOWLEDGED] += 1
            elif turn == 3:
                link = "<https://github.com/acme/ops/issues/12>"
                replies = [_message(f"{START + n}.000200", f"filed {link}", ASKER, thread_ts=ts)]
                want[RequestState.TRACKED] += 1
            elif turn == 4:
                replies = [_message(f"{START + n}.000200", "anyone?", ASKER, thread_ts=ts)]
                reactions = [{"name": "eyes", "users": [ASKER], "count": 1}]
                want[RequestState.UNANSWERED] += 1
            else:
                want[RequestState.UNANSWERED] += 1
            parent = _message(ts, f"<!subteam^{SRE}|@sre> help with {n}?", reactions=reactions)
            if replies:
                parent |= {"thread_ts": ts, "reply_count": len(replies)}
                threads += 1
            rows += [parent, *replies]
        api.messages[channel] = rows  # in ts order already: add_message would sort on every call
    api.add_channel(UNINVITED, "not-invited", members=[MEMBER])
    return api, want, threads


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Sandbox, dict[RequestState, int], int]]:
    api, want, threads = _seeded()
    with Sandbox(SandboxState(slack_api=api)) as sb:
        yield sb, want, threads


def _settings(sb: Sandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_api_url": sb.slack_api_url,
        "sre_channels": [*CHANNELS, UNINVITED],
        "slack_member_ids": {"Olive Oncall": ONCALL},
        "http_attempts": 1,
        **overrides,
    }
    return load_settings(layers=[], **values)


def test_a_shift_of_15000_messages_reads_within_the_budget(
    seeded: tuple[Sandbox, dict[RequestState, int], int],
) -> None:
    sb, want, threads = seeded
    calls = sb.state.slack_api.calls
    calls.clear()
    with disable_run_logger():
        found = read_requests.fn(_settings(sb), WINDOW, oncall="Olive Oncall")
    assert found is not None
    assert found.report.counts == want
    assert found.group_id == SRE and found.responders == {MEMBER, ONCALL}
    assert threads > 0 and sum(want.values()) == len(CHANNELS) * PER_CHANNEL // 100
    assert dict(calls) == {
        "usergroups.list": 2,  # the group's id by handle, then its members
        "conversations.history": len(CHANNELS) * math.ceil(PER_CHANNEL / PAGE) + 1,  # +1: the refusal
        "conversations.replies": threads,  # one per request thread with replies, no more
        "chat.getPermalink": 1,  # the pattern for every other permalink
    }
    assert (
        list(found.skipped) == [UNINVITED]
        and f"/invite the bot to <#{UNINVITED}>" in found.skipped[UNINVITED]
    )

    first = found.threads[0]
    assert first.message.ts == f"{START}.000100" and first.message.channel == CHANNELS[0]
    assert first.request.state is RequestState.ANSWERED and first.request.answered_by == MEMBER
    assert [r.text for r in first.replies] == ["looking"]
    # The derived permalink is the one Slack (the fake) gives for that message.
    some = found.threads[-1]
    assert some.request.permalink == SlackApi(TOKEN, sb.slack_api_url).permalink(
        some.message.channel, some.message.ts
    )


def test_the_on_call_engineer_found_by_email_answers_too(
    seeded: tuple[Sandbox, dict[RequestState, int], int],
) -> None:
    sb, want, _ = seeded
    with disable_run_logger():
        by_email = read_requests.fn(
            _settings(sb, sre_channels=[CHANNELS[0]]), WINDOW, oncall_email="ONCALL@example.com"
        )
        nobody = read_requests.fn(_settings(sb, sre_channels=[CHANNELS[0]]), WINDOW)
    assert by_email is not None and nobody is not None
    assert ONCALL in by_email.responders and ONCALL not in nobody.responders
    answered = by_email.report.counts[RequestState.ANSWERED]
    assert (
        nobody.report.counts[RequestState.ANSWERED] < answered == want[RequestState.ANSWERED] // len(CHANNELS)
    )


def test_no_bot_token_reads_nothing(seeded: tuple[Sandbox, dict[RequestState, int], int]) -> None:
    sb, _, _ = seeded
    calls = sb.state.slack_api.calls
    calls.clear()
    with disable_run_logger():
        assert read_requests.fn(_settings(sb, slack_bot_token=None), WINDOW) is None
    assert sum(calls.values()) == 0


def test_a_message_deleted_before_the_run_is_a_skip_not_an_error(
    seeded: tuple[Sandbox, dict[RequestState, int], int],
) -> None:
    sb, _, _ = seeded
    api = sb.state.slack_api
    gone = api.add_message(CHANNELS[0], f"<!subteam^{SRE}> soon deleted", user=ASKER)["ts"]
    kept = api.add_message(CHANNELS[0], f"<!subteam^{SRE}> still here", user=ASKER)["ts"]
    api.add_message(CHANNELS[0], "looking", user=MEMBER, thread_ts=kept)
    api.delete_message(CHANNELS[0], gone)
    with disable_run_logger():
        assert read_thread.fn(_settings(sb), CHANNELS[0], gone) is None
        thread = read_thread.fn(_settings(sb), CHANNELS[0], kept)
    assert thread is not None and thread.message.ts == kept
    assert [r.text for r in thread.replies] == ["looking"] and thread.bot_replies == frozenset()
    assert thread.permalink is not None and thread.permalink.endswith(f"/p{kept.replace('.', '')}")
