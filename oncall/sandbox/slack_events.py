"""Slack's Events API, as a sender for tests: bodies in Slack's documented envelope, signed the
way Slack signs them, so the relay's `/slack/events` route is tested against what Slack posts.

The signature is Slack's v0 scheme: `v0=` + hex HMAC-SHA256, keyed by the app's signing
secret, of `v0:{X-Slack-Request-Timestamp}:{raw body}`. The body is serialised once here and
the same bytes are signed and sent: a receiver checks the bytes it got, never a re-encoding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

TEAM_ID = "T0SANDBOX1"
APP_ID = "A0SANDBOX1"


def signed_request(
    body: dict[str, Any], signing_secret: str, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body as Slack sends it and the headers Slack adds: `X-Slack-Request-Timestamp`
    (Unix seconds; now unless given, so a test can send a stale one) and `X-Slack-Signature`."""
    raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode("utf-8"), b"v0:" + stamp.encode() + b":" + raw, hashlib.sha256)
    return raw, {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def reaction_added(
    channel: str,
    ts: str,
    reaction: str,
    user: str,
    *,
    event_id: str = "Ev0SANDBOX01",
    item_user: str = "U0REQUESTER",
    event_ts: str | None = None,
    event_time: int | None = None,
) -> dict[str, Any]:
    """An `event_callback` carrying a `reaction_added` on message `ts` in `channel`, in the
    shape Slack's reaction_added reference shows (wrapper and inner event)."""
    now = time.time() if event_time is None else float(event_time)
    return {
        "token": "sandbox-verification-token",  # deprecated by signing; Slack still sends it
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": event_ts or f"{now:.6f}",
        },
        "type": "event_callback",
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": "U0SANDBOT1", "is_bot": True, "is_enterprise_install": False}
        ],
        "event_id": event_id,
        "event_time": int(now),
    }


def url_verification(challenge: str) -> dict[str, Any]:
    """The body Slack posts once, when the app's Request URL is set: it has no inner event."""
    return {"token": "sandbox-verification-token", "challenge": challenge, "type": "url_verification"}
