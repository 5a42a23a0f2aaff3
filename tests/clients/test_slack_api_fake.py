"""The Slack Web API fake, driven by the official slack_sdk WebClient as @SRE requests will be."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from oncall.sandbox.server import Sandbox, SandboxState
from oncall.sandbox.slack_api_fake import ALL_SCOPES, TIER_LIMITS, SlackApiState

HISTORY, OTHERS, SECRET, SECOND = "C0HISTORY", "C0OTHERS", "G0SECRET", "C0SECOND"


def _seeded() -> SlackApiState:
    api = SlackApiState()
    api.add_channel(HISTORY, "sre-requests")
    api.add_channel(OTHERS, "not-ours", members=["U0ALICE"])
    api.add_channel(SECRET, "secret", is_private=True, members=["U0ALICE"])
    api.add_channel(SECOND, "sre-second")
    for n in range(7):
        api.add_message(HISTORY, f"request {n}", user="U0ALICE", ts=f"1700000000.{n + 1:06d}")
    api.add_message(HISTORY, "a reply", user="U0BOB", ts="1700000000.000100", thread_ts="1700000000.000001")
    api.add_user("U0ALICE", "alice", "alice@example.com")
    api.add_user("U0BOB", "bob", "bob@example.com")
    api.add_user("U0CAROL", "carol", "carol@example.com")
    api.add_usergroup("S0SRE", "sre", ["U0ALICE", "U0BOB"])
    return api


@pytest.fixture(scope="module")
def api_sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxState(slack_api=_seeded())) as sb:
        yield sb


@pytest.fixture
def api(api_sandbox: Sandbox) -> Iterator[SlackApiState]:
    state = api_sandbox.state.slack_api
    yield state
    state.scopes = set(ALL_SCOPES)
    state.rate_limits, state.rate_window, state.tier_limits = False, 60.0, dict(TIER_LIMITS)
    state.forget_calls()


def _client(
    sb: Sandbox, token: str | None = None, retry_handlers: list[RetryHandler] | None = None
) -> WebClient:
    return WebClient(
        token=token or sb.state.slack_api.token,
        base_url=f"{sb.url}/slack-api/",
        timeout=5,
        retry_handlers=retry_handlers,
    )


def test_history_pages_by_cursor_newest_first_without_replies(
    api_sandbox: Sandbox, api: SlackApiState
) -> None:
    seen: list[str] = []
    more: list[bool] = []
    for page in _client(api_sandbox).conversations_history(channel=HISTORY, limit=3):  # one object, refilled
        seen += [m["ts"] for m in page["messages"]]
        more.append(page["has_more"])
    top = sorted(
        (m["ts"] for m in api.messages[HISTORY] if m.get("thread_ts", m["ts"]) == m["ts"]), reverse=True
    )
    assert seen == top
    assert more == [True, True, False]
    assert api.calls["conversations.history"] == len(more) == 3
    window = _client(api_sandbox).conversations_history(
        channel=HISTORY, oldest="1700000000.000002", latest="1700000000.000004", inclusive=True
    )
    assert [m["ts"] for m in window["messages"]] == [f"1700000000.00000{n}" for n in (4, 3, 2)]
    parent = api.find(HISTORY, "1700000000.000001")
    assert parent is not None and parent["reply_count"] == 1


def test_refusals_are_slacks_errors(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    api.scopes.discard("channels:history")
    with pytest.raises(SlackApiError) as err:
        client.conversations_history(channel=HISTORY)
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "missing_scope"
    assert err.value.response["needed"] == "channels:history"
    assert "channels:history" not in err.value.response["provided"].split(",")
    api.scopes.add("channels:history")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: client.conversations_history(channel=OTHERS), "not_in_channel"),
        (lambda: client.conversations_history(channel=SECRET), "channel_not_found"),
        (lambda: client.conversations_history(channel=HISTORY, cursor="not-a-cursor"), "invalid_cursor"),
        (lambda: client.conversations_history(channel=HISTORY, oldest="yesterday"), "invalid_ts_oldest"),
        (lambda: client.conversations_replies(channel=HISTORY, ts="1600000000.000001"), "thread_not_found"),
        (lambda: _client(api_sandbox, "xoxb-wrong").users_list(), "invalid_auth"),
    ]
    for call, error in cases:
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == error


def test_a_reply_posted_in_a_thread_is_in_its_replies(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    parent = client.chat_postMessage(channel=HISTORY, text="<!subteam^S0SRE> help?")
    replies = [client.chat_postMessage(channel=HISTORY, text=t, thread_ts=parent["ts"]) for t in "abc"]
    reply = replies[-1]
    assert reply["message"]["thread_ts"] == parent["ts"]
    seen: list[str] = []
    for page in client.conversations_replies(channel=HISTORY, ts=parent["ts"], limit=2):
        seen += [m["ts"] for m in page["messages"]]
    assert seen == [parent["ts"], *(r["ts"] for r in replies)]  # the parent once, first
    assert api.calls["conversations.replies"] == 2
    parent_now = api.find(HISTORY, parent["ts"])
    assert parent_now is not None and parent_now["reply_count"] == 3
    link = client.chat_getPermalink(channel=HISTORY, message_ts=reply["ts"])["permalink"]
    assert link.startswith(api_sandbox.url) and f"thread_ts={parent['ts']}" in link


def test_reactions_add_once_then_already_reacted(api_sandbox: Sandbox, api: SlackApiState) -> None:
    client = _client(api_sandbox)
    ts = client.chat_postMessage(channel=HISTORY, text="react to me")["ts"]
    client.reactions_add(channel=HISTORY, timestamp=ts, name="eyes")
    with pytest.raises(SlackApiError) as err:
        client.reactions_add(channel=HISTORY, timestamp=ts, name="eyes")
    assert err.value.response["error"] == "already_reacted"
    got = client.reactions_get(channel=HISTORY, timestamp=ts, full=True)["message"]["reactions"]
    assert got == [{"name": "eyes", "users": [api.bot_user], "count": 1}]
    api.delete_message(HISTORY, ts)
    with pytest.raises(SlackApiError) as err:
        client.reactions_get(channel=HISTORY, timestamp=ts)
    assert err.value.response["error"] == "message_not_found"


def test_users_page_by_cursor_and_hide_email_without_its_scope(
    api_sandbox: Sandbox, api: SlackApiState
) -> None:
    client = _client(api_sandbox)
    ids = [u["id"] for page in client.users_list(limit=2) for u in list(page["members"])]
    assert ids == sorted(api.users) and api.calls["users.list"] == 2
    groups = client.usergroups_list(include_users=True)["usergroups"]
    assert [(g["handle"], g["users"]) for g in groups] == [("sre", ["U0ALICE", "U0BOB"])]
    api.scopes.discard("users:read.email")
    assert "email" not in client.users_info(user="U0BOB")["user"]["profile"]


def test_past_the_tier_a_429_whose_retry_after_the_sdk_honours(
    api_sandbox: Sandbox, api: SlackApiState
) -> None:
    api.rate_limits, api.rate_window, api.tier_limits = True, 1.0, {**api.tier_limits, 3: 2}
    plain = _client(api_sandbox)
    plain.conversations_history(channel=HISTORY, limit=1)
    plain.conversations_history(channel=HISTORY, limit=1)
    with pytest.raises(SlackApiError) as err:
        plain.conversations_history(channel=HISTORY, limit=1)
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] in (["1"], "1")
    patient = _client(api_sandbox, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    started = time.monotonic()
    assert patient.conversations_history(channel=HISTORY, limit=1)["ok"]
    assert time.monotonic() - started < 5
    assert api.calls["conversations.history"] >= 4


def test_posts_to_one_channel_are_held_to_one_a_second(api_sandbox: Sandbox, api: SlackApiState) -> None:
    api.rate_limits = True
    client = _client(api_sandbox)
    client.chat_postMessage(channel=HISTORY, text="first")
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=HISTORY, text="too soon")
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel=SECOND, text="another channel")["ok"]
    assert [m["text"] for m in api.messages[HISTORY]].count("too soon") == 0
