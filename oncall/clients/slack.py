"""Slack incoming webhooks. The webhook URL is itself a secret: it never appears in an error or a log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from oncall.clients.http import ApiClient, RetryPolicy
from oncall.errors import RejectedError

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
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._url = url  # posted to as-is: a base URL would gain a trailing slash
        self.api = ApiClient(
            system="Slack",
            base_url="",
            credential_setting=SETTING,
            transport=transport,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
        )

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> SlackWebhook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def post(self, payload: dict[str, Any]) -> None:
        self.api.request("POST", self._url, json=payload, what=f"Slack webhook ({SETTING})", idempotent=False)

    def check(self) -> str:
        """An empty payload is refused with `no_text` by a live webhook and posts nothing."""
        try:
            self.api.request("POST", self._url, json={}, what=f"Slack webhook ({SETTING})", idempotent=False)
        except RejectedError as exc:
            if exc.status == 400:
                return "Slack webhook: reachable and accepted (empty test payload refused as expected)"
            raise
        return "Slack webhook: reachable"
