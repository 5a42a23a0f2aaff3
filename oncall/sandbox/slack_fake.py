"""A fake Slack incoming webhook that enforces Slack's payload rules and records messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_TEXT = 40_000


@dataclass
class SlackState:
    webhook_path: str = "/services/T0SANDBOX/B0SANDBOX/sandboxwebhooksecret"
    archived: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)


def blocks_problem(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "invalid_blocks"
        text = block.get("text")
        if block["type"] == "header" and (
            not isinstance(text, dict)
            or text.get("type") != "plain_text"
            or len(text.get("text", "")) > MAX_HEADER_TEXT
        ):
            return "invalid_blocks"
        if block["type"] == "section":
            fields = block.get("fields") or []
            if text is None and not fields:
                return "invalid_blocks"
            for t in [text, *fields] if text else fields:
                if not isinstance(t, dict) or len(t.get("text", "")) > MAX_SECTION_TEXT or not t.get("text"):
                    return "invalid_blocks"
            if len(fields) > 10:
                return "invalid_blocks"
    return None


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
