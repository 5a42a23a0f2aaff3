from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from oncall.clients.slack import SlackWebhook
from oncall.errors import NotFoundError, RejectedError
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
