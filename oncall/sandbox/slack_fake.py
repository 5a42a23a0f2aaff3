"""A fake Slack incoming webhook that enforces Slack's payload rules and records messages.

It answers as a real webhook does: 200 with the body `ok`, or an error word as plain text
(400 `invalid_payload` / `no_text` / `invalid_blocks`, 404 `no_service`, 410 `channel_is_archived`;
Slack changelog 2016-05-17, "Improving error conditions for Incoming Webhooks").

Blocks are checked against the Block Kit reference (docs.slack.dev/reference/block-kit) for
every block type the project sends: header, section (text and fields), context and divider,
with plain_text and mrkdwn text objects. Any other type, an unknown key, an empty list or text,
or a text past its limit is refused with `invalid_blocks`, as Slack does. A block type the
project starts sending must be taught to the fake first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

MAX_BLOCKS = 50  # per message ("up to 50 blocks in each message")
MAX_HEADER_TEXT = 150
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_TEXT_OBJECT = 3000  # a text object anywhere else (context elements)
MAX_BLOCK_ID = 255
MAX_TEXT = 40_000

# The keys each block type and text object may carry; anything else is invalid_blocks.
_BLOCK_KEYS = {
    "header": {"type", "text", "block_id"},
    "section": {"type", "text", "fields", "block_id"},
    "context": {"type", "elements", "block_id"},
    "divider": {"type", "block_id"},
}
_TEXT_KEYS = {"plain_text": {"type", "text", "emoji"}, "mrkdwn": {"type", "text", "verbatim"}}


@dataclass
class SlackState:
    webhook_path: str = "/services/T0SANDBOX/B0SANDBOX/sandboxwebhooksecret"
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


def _text_ok(obj: Any, limit: int, types: tuple[str, ...] = ("plain_text", "mrkdwn")) -> bool:
    """A text object of an allowed type, with 1 to `limit` characters and no unknown keys."""
    if not isinstance(obj, dict) or obj.get("type") not in types:
        return False
    text = obj.get("text")
    return (
        set(obj) <= _TEXT_KEYS[obj["type"]]
        and isinstance(text, str)
        and 1 <= len(text) <= limit
        and all(isinstance(obj[k], bool) for k in ("emoji", "verbatim") if k in obj)
    )


def _block_ok(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in _BLOCK_KEYS:
        return False
    kind = block["type"]
    if not set(block) <= _BLOCK_KEYS[kind]:
        return False
    block_id = block.get("block_id")
    if block_id is not None and not (isinstance(block_id, str) and 1 <= len(block_id) <= MAX_BLOCK_ID):
        return False
    if kind == "header":
        return _text_ok(block.get("text"), MAX_HEADER_TEXT, ("plain_text",))
    if kind == "section":
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:
            return False
        if text is not None and not _text_ok(text, MAX_SECTION_TEXT):
            return False
        return fields is None or (
            isinstance(fields, list)
            and 1 <= len(fields) <= MAX_FIELDS
            and all(_text_ok(f, MAX_FIELD_TEXT) for f in fields)
        )
    if kind == "context":
        elements = block.get("elements")
        return (
            isinstance(elements, list)
            and 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS
            and all(_text_ok(e, MAX_TEXT_OBJECT) for e in elements)
        )
    return True  # a divider: its keys were checked above


def blocks_problem(blocks: Any) -> str | None:
    """Slack's answer to a `blocks` value it refuses, or None when it takes them."""
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    return None if all(_block_ok(b) for b in blocks) else "invalid_blocks"


def build_slack_app(state: SlackState) -> Router:
    async def webhook(request: Request) -> PlainTextResponse:
        if "/" + request.path_params["path"] != state.webhook_path:
            return PlainTextResponse("no_service", status_code=404)
        if state.archived:
            return PlainTextResponse("channel_is_archived", status_code=410)
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(payload, dict):
            return PlainTextResponse("invalid_payload", status_code=400)
        if not payload.get("text") and not payload.get("blocks"):
            return PlainTextResponse("no_text", status_code=400)
        if len(str(payload.get("text", ""))) > MAX_TEXT:
            return PlainTextResponse("msg_too_long", status_code=400)
        if "blocks" in payload and (problem := blocks_problem(payload["blocks"])):
            return PlainTextResponse(problem, status_code=400)
        state.messages.append(payload)
        return PlainTextResponse("ok")

    return Router(routes=[Route("/{path:path}", webhook, methods=["POST"])])
