"""Slack incoming webhooks. The webhook URL is itself a secret: it never appears in an error or a log.

A webhook answers a post with 200 and the body `ok`, and a refusal with an error word (400
`invalid_blocks`, 404 `no_service`, ...). Anything else on a 200, such as a proxy's HTML page,
is not Slack's answer: the message did not reach the channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from oncall.clients.http import ApiClient
from oncall.errors import MalformedError, RejectedError
from oncall.retry import DEFAULT_CONCURRENCY, RetryPolicy

SETTING = "ONCALL_SLACK_WEBHOOK_URL (Secret block 'oncall-slack-webhook-url')"


class SlackWebhook:
    """Posts one payload per call. Retries only 429s and unopened connections, so a message is
    never posted twice by a retry."""

    def __init__(
        self,
        url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._url = url  # posted to as-is: a base URL would gain a trailing slash
        self.api = ApiClient(
            system="Slack",
            base_url="",
            credential_setting=SETTING,
            secrets=(url,),  # error pages may echo the request path, which is the secret
            transport=transport,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            max_connections=concurrency,
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> SlackWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, payload: dict[str, Any]) -> None:
        """Post one message. Raises UncertainError when Slack may have posted it and its answer was
        lost; any other error means it was certainly not posted."""
        what = f"Slack webhook ({SETTING})"
        response = self.api.request("POST", self._url, json=payload, what=what, idempotent=False)
        if response.text.strip() != "ok":
            # The page is not quoted: a proxy's error page may echo the webhook's secret path.
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise MalformedError(
                "Slack",
                f"{what} answered HTTP {response.status_code} without Slack's `ok` ({kind}, "
                f"{len(response.content)} bytes): not Slack's answer, so the message was not posted; "
                "is a proxy or captive portal between this worker and hooks.slack.com?",
                status=response.status_code,
            )

    def check(self) -> str:
        """An empty payload is refused with `no_text` by a live webhook and posts nothing."""
        what = f"Slack webhook ({SETTING})"
        try:
            response = self.api.request("POST", self._url, json={}, what=what, idempotent=False)
        except RejectedError as exc:
            if exc.status == 400:
                return "Slack webhook: reachable and accepted (empty test payload refused as expected)"
            raise
        raise MalformedError(
            "Slack",
            f"{what} took an empty payload with HTTP {response.status_code}, which Slack refuses: "
            "the answer is not Slack's; is a proxy or captive portal in between?",
            status=response.status_code,
        )
