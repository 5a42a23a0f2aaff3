"""The Slack Web API client against the sandbox's fake: pages counted, refusals named, no token out."""

from __future__ import annotations

import logging
import math
import traceback
from collections.abc import Iterator

import pytest

from oncall.clients.slack_api import PAGE, SETTING, MessageNotFoundError, SlackApi
from oncall.errors import AuthError, NotFoundError, OutsideError, RateLimitedError, UncertainError
from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.slack_api_fake import ALL_SCOPES, SlackApiState

TOKEN = "xoxb-canary-slackapi-5e1f9a7c"
BUSY, OTHERS, QUIET = "C0BUSY", "C0OTHERS", "C0QUIET"
BUSY_COUNT, REPLY_COUNT = 5000, 450
START = 1_700_000_000


def _seeded() -> SlackApiState:
    api = SlackApiState(token=TOKEN)
    api.add_channel(BUSY, "sre-busy")
    api.add_channel(OTHERS, "not-ours", members=["U0ALICE"])
    api.add_channel(QUIET, "sre-quiet")
    # Appended in ts order at once: add_message sorts the channel on every call.
    api.messages[BUSY] = [
        {"type": "message", "ts": f"{START + n}.000100", "user": "U0ALICE", "text": f"message {n}"}
        for n in range(BUSY_COUNT)
    ]
    parent = api.add_message(QUIET, "<!subteam^S0SRE> help?", user="U0ALICE", ts=f"{START}.000001")
    for n in range(REPLY_COUNT):
        api.add_message(QUIET, f"reply {n}", user="U0BOB", ts=f"{START}.{n + 2:06d}", thread_ts=parent["ts"])
    api.add_user("U0ALICE", "alice", "Alice@Example.com")
    api.add_user("U0BOB", "bob", "bob@example.com")
    api.add_usergroup("S0SRE", "sre", ["U0ALICE", "U0BOB"])
    return api


@pytest.fixture(scope="module")
def api_sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxState(slack_api=_seeded())) as sb:
        yield sb


@pytest.fixture
def api(api_sandbox: Sandbox) -> Iterator[SlackApiState]:
    state = api_sandbox.state.slack_api
    state.forget_calls()
    yield state
    state.scopes = set(ALL_SCOPES)
    api_sandbox.app.script.clear()


def _client(sb: Sandbox, token: str = TOKEN, retries: int = 2) -> SlackApi:
    return SlackApi(token, sb.slack_api_url, timeout=5, retries=retries)


def _said(exc: BaseException) -> str:
    return str(exc) + "".join(traceback.format_exception(exc))


def test_history_and_replies_read_every_page_of_200(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    messages = client.history(BUSY, START - 1, START + BUSY_COUNT)
    assert len(messages) == BUSY_COUNT
    assert [m["ts"] for m in messages] == sorted((m["ts"] for m in messages), key=float, reverse=True)
    assert api.calls["conversations.history"] == math.ceil(BUSY_COUNT / PAGE) == 25
    window = client.history(BUSY, f"{START + 10}.000000", f"{START + 20}.000000")
    assert len(window) == 10

    thread = client.replies(QUIET, f"{START}.000001")
    assert [m["ts"] for m in thread] == [f"{START}.{n + 1:06d}" for n in range(REPLY_COUNT + 1)]
    assert api.calls["conversations.replies"] == math.ceil((REPLY_COUNT + 1) / PAGE)


def test_groups_users_links_and_reactions(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    assert client.group_id("@SRE") == "S0SRE" and client.group_id("nobody") is None
    assert client.group_members("S0SRE") == ["U0ALICE", "U0BOB"]
    found = client.user_by_email("alice@example.com")
    assert found is not None and found["id"] == "U0ALICE"
    assert client.user_by_email("carol@example.com") is None
    ts = client.post_reply(QUIET, f"{START}.000001", "on it")
    assert client.permalink(QUIET, ts).startswith(api_sandbox.url)
    client.add_reaction(QUIET, ts, "eyes")
    client.add_reaction(QUIET, ts, ":eyes:")  # already_reacted: done, not an error
    assert client.reactions(QUIET, ts) == [{"name": "eyes", "users": [api.bot_user], "count": 1}]
    api.scopes.discard("users:read.email")
    with pytest.raises(AuthError, match=r"users:read\.email"):
        client.user_by_email("alice@example.com")


def test_refusals_name_the_fix_in_one_line_and_never_the_token(
    api_sandbox: Sandbox, api: SlackApiState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(api_sandbox)
    wrong = "xoxb-canary-wrong-token-91d0"
    cases: list[tuple[SlackApi, str, type[OutsideError], str]] = [
        (client, OTHERS, AuthError, f"/invite the bot to <#{OTHERS}>"),
        (client, "C0MISSING", NotFoundError, "ONCALL_SRE_CHANNELS"),
        (_client(api_sandbox, wrong), BUSY, AuthError, f"check {SETTING}"),
    ]
    api.scopes.discard("channels:history")
    with pytest.raises(AuthError) as caught:
        client.history(BUSY, START, START + 1)
    texts = [_said(caught.value)]
    assert "needs the `channels:history` scope" in str(caught.value)
    api.scopes.add("channels:history")
    for who, channel, kind, fix in cases:
        with pytest.raises(kind) as err:
            who.history(channel, START, START + 1)
        assert fix in str(err.value) and "\n" not in str(err.value)
        texts.append(_said(err.value))
    texts += [repr(client), caplog.text]
    assert [t for t in texts if TOKEN in t or wrong in t] == []


def test_a_deleted_message_is_its_own_error(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    ts = client.post_reply(QUIET, f"{START}.000001", "to be deleted")
    api.delete_message(QUIET, ts)
    for call in (
        lambda: client.reactions(QUIET, ts),
        lambda: client.add_reaction(QUIET, ts, "ticket"),
        lambda: client.permalink(QUIET, ts),
        lambda: client.replies(QUIET, ts),
        lambda: client.post_reply(QUIET, ts, "too late"),
    ):
        with pytest.raises(MessageNotFoundError, match="deleted") as err:
            call()
        assert (err.value.channel, err.value.ts) == (QUIET, ts)


def test_429_is_waited_out_and_a_lost_write_is_not_sent_again(
    api_sandbox: Sandbox, api: SlackApiState
) -> None:
    history = "/slack-api/conversations.history"
    before = api_sandbox.app.count(path_prefix=history)
    api_sandbox.script(history, 429, headers={"Retry-After": "0"})
    assert len(_client(api_sandbox).history(QUIET, START - 1, START + 1)) == 1
    assert api_sandbox.app.count(path_prefix=history) == before + 2  # the 429, then the answer

    api_sandbox.script(history, 429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as limited:
        _client(api_sandbox, retries=0).history(QUIET, START - 1, START + 1)
    assert limited.value.retry_after == 7 and "ratelimited" in str(limited.value)

    api_sandbox.script(history, 503)
    assert len(_client(api_sandbox).history(QUIET, START - 1, START + 1)) == 1  # a read is retried

    post = "/slack-api/chat.postMessage"
    before = api_sandbox.app.count(path_prefix=post)
    api_sandbox.script(post, 502, after=True)  # Slack posts it, the answer is lost
    with pytest.raises(UncertainError):
        _client(api_sandbox).post_reply(QUIET, f"{START}.000001", "exactly once")
    assert api_sandbox.app.count(path_prefix=post) == before + 1
    assert [m["text"] for m in api.messages[QUIET]].count("exactly once") == 1
