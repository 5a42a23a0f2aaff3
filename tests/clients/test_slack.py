from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from oncall.clients.slack import SlackWebhook
from oncall.errors import MalformedError, NotFoundError, RejectedError, UnavailableError, UncertainError
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep


@pytest.fixture(autouse=True)
def _close_hooks() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


_OPEN: list[SlackWebhook] = []


def _hook(url: str, **kw: Any) -> SlackWebhook:
    hook = SlackWebhook(url, **kw)
    _OPEN.append(hook)
    return hook


def test_post_records_the_message(sandbox: Sandbox) -> None:
    hook = _hook(sandbox.slack_webhook_url)
    hook.post({"text": "hello", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]})
    assert sandbox.state.slack.messages[-1]["text"] == "hello"


def test_wrong_webhook_names_the_setting_never_the_url(sandbox: Sandbox) -> None:
    secret_url = f"{sandbox.url}/slack/services/T0/B0/canarysecretpath"
    hook = _hook(secret_url)
    with pytest.raises(NotFoundError) as err:
        hook.post({"text": "x"})
    assert "ONCALL_SLACK_WEBHOOK_URL" in str(err.value) and "canarysecretpath" not in str(err.value)


def test_invalid_blocks_are_rejected_like_slack(sandbox: Sandbox) -> None:
    hook = _hook(sandbox.slack_webhook_url)
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(RejectedError, match="invalid_blocks"):
        hook.post({"text": "x", "blocks": too_many})
    with pytest.raises(RejectedError, match="no_text"):
        hook.post({})


def test_post_is_not_retried_after_a_server_error(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    """A 5xx may come after Slack posted the message; retrying would post it twice."""
    sandbox.script("/slack/", 500, after=True)
    hook = _hook(sandbox.slack_webhook_url, sleep=fake_sleep)
    with pytest.raises(Exception, match="HTTP 500"):
        hook.post({"text": "once"})
    assert [m["text"] for m in sandbox.state.slack.messages] == ["once"]
    assert fake_sleep.calls == []


def test_429_is_retried_with_retry_after(sandbox: Sandbox, fake_sleep: FakeSleep) -> None:
    sandbox.script("/slack/", 429, headers={"Retry-After": "3"})
    _hook(sandbox.slack_webhook_url, sleep=fake_sleep).post({"text": "later"})
    assert fake_sleep.calls == [3.0]
    assert [m["text"] for m in sandbox.state.slack.messages] == ["later"]


def test_check_uses_an_empty_payload_that_posts_nothing(sandbox: Sandbox) -> None:
    assert "reachable" in _hook(sandbox.slack_webhook_url).check()
    assert sandbox.state.slack.messages == []


# Slack's answers, as the vendor gives them (docs.slack.dev Block Kit references; Slack changelog
# 2016-05-17 "Improving error conditions for Incoming Webhooks"): 200 `ok`, or 400 `invalid_blocks`.
def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


_VALID_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": _plain("h" * 150)},
    {"type": "divider"},
    _section("s" * 3000),
    {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2000}] * 10},
    {"type": "section", "text": _plain("both"), "fields": [_plain("a")], "block_id": "b" * 255},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
]

_INVALID_BLOCKS: dict[str, list[Any]] = {
    "unknown block type": [{"type": "sectoin", "text": {"type": "mrkdwn", "text": "x"}}],
    "unknown text type": [{"type": "section", "text": {"type": "markdown", "text": "x"}}],
    "header over 150": [{"type": "header", "text": _plain("h" * 151)}],
    "header in mrkdwn": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
    "section text over 3000": [_section("s" * 3001)],
    "empty section text": [_section("")],
    "section with neither text nor fields": [{"type": "section"}],
    "field over 2000": [{"type": "section", "fields": [_plain("f" * 2001)]}],
    "11 fields": [{"type": "section", "fields": [_plain("f")] * 11}],
    "empty fields": [{"type": "section", "fields": []}],
    "11 context elements": [{"type": "context", "elements": [_plain("c")] * 11}],
    "empty context": [{"type": "context", "elements": []}],
    "empty context text": [{"type": "context", "elements": [_plain("")]}],
    "divider with text": [{"type": "divider", "text": _plain("x")}],
    "unknown key": [{"type": "header", "text": _plain("h"), "subtitle": "x"}],
    "block_id over 255": [{"type": "divider", "block_id": "b" * 256}],
    "51 blocks": [{"type": "divider"}] * 51,
    "a block that is not an object": ["divider"],
    "blocks that are not a list": {"type": "divider"},  # type: ignore[dict-item]
}


def test_every_block_type_the_project_sends_is_accepted_at_its_limits(sandbox: Sandbox) -> None:
    _hook(sandbox.slack_webhook_url).post({"text": "limits", "blocks": _VALID_BLOCKS})
    assert sandbox.state.slack.messages[-1]["blocks"] == _VALID_BLOCKS


@pytest.mark.parametrize("case", sorted(_INVALID_BLOCKS))
def test_blocks_slack_refuses_are_refused_with_invalid_blocks(sandbox: Sandbox, case: str) -> None:
    hook = _hook(sandbox.slack_webhook_url)
    with pytest.raises(RejectedError, match=r"HTTP 400: invalid_blocks"):
        hook.post({"text": "x", "blocks": _INVALID_BLOCKS[case]})
    assert sandbox.state.slack.messages == []


def test_slack_sdk_webhook_client_reads_the_fakes_answers(sandbox: Sandbox) -> None:
    """The official client, for the one call the project makes: posting a payload."""
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(sandbox.slack_webhook_url)
    ok = client.send_dict({"text": "from slack_sdk", "blocks": _VALID_BLOCKS})
    assert (ok.status_code, ok.body) == (200, "ok")
    assert sandbox.state.slack.messages[-1]["text"] == "from slack_sdk"
    refused = client.send_dict({"text": "x", "blocks": [{"type": "header", "text": _plain("h" * 151)}]})
    assert (refused.status_code, refused.body) == (400, "invalid_blocks")
    empty = client.send(text="")
    assert (empty.status_code, empty.body) == (400, "no_text")
    gone = WebhookClient(f"{sandbox.url}/slack/services/T0/B0/nosuchhook").send(text="x")
    assert (gone.status_code, gone.body) == (404, "no_service")
    assert len(sandbox.state.slack.messages) == 1


def test_a_200_that_is_not_slacks_ok_is_not_a_post(sandbox: Sandbox) -> None:
    """A proxy or captive portal answering 200 with its own page: nothing reached Slack."""
    page = (
        b"<html><body>Proxy login required: /services/T0SANDBOX/B0SANDBOX/sandboxwebhooksecret</body></html>"
    )
    sandbox.script("/slack/", 200, body=page)
    with pytest.raises(MalformedError, match=r"HTTP 200 without Slack's `ok`") as err:
        _hook(sandbox.slack_webhook_url).post({"text": "lost"})
    assert "sandboxwebhooksecret" not in str(err.value) and "Proxy" not in str(err.value)
    assert sandbox.state.slack.messages == []


def test_a_lost_answer_is_uncertain_and_a_refusal_or_no_connection_is_not(
    sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    """Slack acted and its answer was lost (502), or it answered too late: the post may be in the
    channel. A refusal, or a connection that never opened, certainly posted nothing."""
    sandbox.script("/slack/", 502, after=True)
    with pytest.raises(UncertainError, match="may or may not"):
        _hook(sandbox.slack_webhook_url, sleep=fake_sleep).post({"text": "acted"})
    sandbox.faults("slack", rate_slow=1.0, slow_ms=1500)
    try:
        with pytest.raises(UncertainError, match="may or may not"):
            _hook(sandbox.slack_webhook_url, sleep=fake_sleep, timeout=0.3).post({"text": "late"})
    finally:
        sandbox.app.rates.pop("slack")
    with pytest.raises(RejectedError) as refused:
        _hook(sandbox.slack_webhook_url).post({"text": "x", "blocks": [{"type": "nope"}]})
    assert not isinstance(refused.value, UncertainError)
    with pytest.raises(UnavailableError) as down:
        _hook("http://127.0.0.1:9/slack/services/T/B/x", sleep=fake_sleep).post({"text": "x"})
    assert not isinstance(down.value, UncertainError)


def test_check_says_when_the_answer_is_not_slacks(sandbox: Sandbox) -> None:
    sandbox.script("/slack/", 200, body=b"<html>ok</html>")
    with pytest.raises(MalformedError, match="not Slack's"):
        _hook(sandbox.slack_webhook_url).check()
