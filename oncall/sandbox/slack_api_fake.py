"""A fake Slack Web API (`https://slack.com/api/<method>`) for the official slack_sdk WebClient.

It serves what @SRE requests read and write: conversations.history and .replies, reactions.get
and .add, usergroups.list, users.list and .info, chat.postMessage and chat.getPermalink.

What Slack does and the fake does too (docs.slack.dev/reference/methods/<method>):
- Every answer is HTTP 200 JSON with `ok`; a refusal is `{"ok": false, "error": "..."}`. A token
  without the method's scope gets `missing_scope` with `needed` and `provided` (the granted
  scopes, comma-joined). No token is `not_authed`, a wrong one `invalid_auth`.
- The bot reads and posts only where it is a member: `not_in_channel` on a public channel,
  `channel_not_found` on a private one it cannot see. A deleted message is `message_not_found`
  (`thread_not_found` for replies).
- Collections page by `response_metadata.next_cursor` (empty on the last page); the cursors are
  base64 like Slack's (`next_ts:<ts>`, `user:<id>`) and a garbled one is `invalid_cursor`.
  conversations.history is newest first (limit default 100, at most 999) with `has_more`;
  conversations.replies is oldest first with the parent first, on the first page only.
- Rate limits are tiers per method per minute (Tier 2: 20, Tier 3: 50, Tier 4: 100) and about
  one chat.postMessage per second per channel; past them Slack answers HTTP 429 `ratelimited`
  with `Retry-After` in seconds. They are off by default (`rate_limits`) so tests stay fast;
  `rate_window` shortens the minute for tests that want a 429 and a quick retry.
- Without users:read.email a user's `profile` carries no `email`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import public_base

ALL_SCOPES = frozenset(
    {
        "channels:history",
        "groups:history",
        "reactions:read",
        "reactions:write",
        "usergroups:read",
        "users:read",
        "users:read.email",
        "chat:write",
    }
)
TIER_LIMITS = {2: 20, 3: 50, 4: 100}  # requests per minute (docs.slack.dev/apis/web-api/rate-limits)
HISTORY_LIMIT, HISTORY_MAX = 100, 999
REPLIES_LIMIT = 1000
REACTION_USERS_SHOWN = 50  # without `full`, a reaction's `users` may be cut; `count` stays whole

# method -> (rate tier, scope needed; "history" is channels: or groups: by the channel's kind)
_METHODS: dict[str, tuple[int, str | None]] = {
    "conversations.history": (3, "history"),
    "conversations.replies": (3, "history"),
    "reactions.get": (3, "reactions:read"),
    "reactions.add": (3, "reactions:write"),
    "usergroups.list": (2, "usergroups:read"),
    "users.list": (2, "users:read"),
    "users.info": (4, "users:read"),
    "chat.getPermalink": (4, None),  # "Special rate limits"; no scope listed
    "chat.postMessage": (0, "chat:write"),  # special: ~1 per second per channel
}


class SlackApiError(Exception):
    """A refusal the handler answers as Slack would: `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.status, self.extra = error, status, extra


@dataclass
class SlackApiState:
    token: str = "xoxb-sandbox-bot-token"
    bot_user: str = "U0SANDBOT"
    team: str = "T0SANDBOX"
    scopes: set[str] = field(default_factory=lambda: set(ALL_SCOPES))
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> channel
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel id -> all, by ts
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> user
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)  # method -> requests that arrived
    rate_limits: bool = False
    rate_window: float = 60.0  # seconds a tier's count runs over (Slack: a minute)
    tier_limits: dict[int, int] = field(default_factory=lambda: dict(TIER_LIMITS))
    post_interval: float = 1.0  # seconds between posts to one channel
    _arrivals: dict[str, list[float]] = field(default_factory=dict)
    _last_post: dict[str, float] = field(default_factory=dict)
    _last_ts: float = 1_700_000_000.0

    def add_channel(
        self, ident: str, name: str, *, is_private: bool = False, members: list[str] | None = None
    ) -> dict[str, Any]:
        """A channel with the bot among its members unless `members` leaves it out."""
        channel = {
            "id": ident,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_private": is_private,
            "members": [self.bot_user] if members is None else list(members),
        }
        self.channels[ident] = channel
        self.messages.setdefault(ident, [])
        return channel

    def add_user(self, ident: str, name: str, email: str, real_name: str = "") -> dict[str, Any]:
        user = {
            "id": ident,
            "team_id": self.team,
            "name": name,
            "real_name": real_name or name,
            "deleted": False,
            "is_bot": False,
            "profile": {"real_name": real_name or name, "display_name": name, "email": email},
        }
        self.users[ident] = user
        return user

    def add_usergroup(self, ident: str, handle: str, users: list[str], name: str = "") -> dict[str, Any]:
        group = {"id": ident, "team_id": self.team, "handle": handle, "name": name or handle, "users": users}
        self.usergroups.append(group)
        return group

    def next_ts(self) -> str:
        """A fresh `ts`: now, or a microsecond past the last one, as Slack's are unique per channel."""
        self._last_ts = max(round(time.time(), 6), round(self._last_ts + 0.000001, 6))
        return f"{self._last_ts:.6f}"

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        reactions: list[dict[str, Any]] | None = None,
        subtype: str | None = None,
    ) -> dict[str, Any]:
        """Store a message; a reply (`thread_ts`) updates its parent's reply_count as Slack does."""
        ts = ts or self.next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "user": user or self.bot_user, "text": text}
        if subtype:
            message["subtype"] = subtype
        if reactions:
            message["reactions"] = [{**r, "count": len(r["users"])} for r in reactions]
        if thread_ts and thread_ts != ts:
            parent = self.find(channel, thread_ts)
            if parent is None:
                raise KeyError(f"no parent {thread_ts} in {channel}")
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = parent["user"]
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["reply_users"] = sorted({*parent.get("reply_users", []), message["user"]})
            parent["latest_reply"] = max(parent.get("latest_reply", ts), ts, key=float)
        stored = self.messages.setdefault(channel, [])
        stored.append(message)
        stored.sort(key=lambda m: float(m["ts"]))
        return message

    def find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    def delete_message(self, channel: str, ts: str) -> None:
        self.messages[channel] = [m for m in self.messages.get(channel, []) if m["ts"] != ts]

    def forget_calls(self) -> None:
        """Start fresh counts and rate-limit windows (tests)."""
        self.calls.clear()
        self._arrivals.clear()
        self._last_post.clear()


def _cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _uncursor(kind: str, cursor: str) -> str:
    try:
        found, _, value = base64.b64decode(cursor, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise SlackApiError("invalid_cursor") from None
    if found != kind or not value:
        raise SlackApiError("invalid_cursor")
    return value


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _limit(value: Any, default: int, most: int) -> int:
    try:
        asked = int(value)
    except (TypeError, ValueError):
        return default
    return default if asked <= 0 else min(asked, most)


def _ts(value: Any, default: float, error: str) -> float:
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SlackApiError(error) from None


def _page(items: list[dict[str, Any]], limit: int, cursor_of: Any) -> tuple[list[dict[str, Any]], str]:
    """The first `limit` items and the cursor naming the next one ("" at the end)."""
    page, rest = items[:limit], items[limit:]
    return page, (cursor_of(rest[0]) if rest else "")


async def _params(request: Request) -> dict[str, Any]:
    """Slack takes arguments as a query, a form or (POST) a JSON body; the query's come first."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise SlackApiError("invalid_json") from None
        if isinstance(data, dict):
            params.update({k: v for k, v in data.items() if k != "token"})  # JSON: token only in the header
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def build_slack_api_app(state: SlackApiState) -> Router:
    def authorise(request: Request, params: dict[str, Any]) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else params.get("token")
        if not token:
            raise SlackApiError("not_authed")
        if token != state.token:
            raise SlackApiError("invalid_auth")

    def need(scope: str) -> None:
        if scope not in state.scopes:
            raise SlackApiError("missing_scope", needed=scope, provided=",".join(sorted(state.scopes)))

    def throttle(method: str, tier: int, params: dict[str, Any]) -> None:
        if not state.rate_limits:
            return
        now = time.monotonic()
        if method == "chat.postMessage":
            channel = str(params.get("channel", ""))
            last = state._last_post.get(channel)
            if last is not None and now - last < state.post_interval:
                raise _ratelimited(state.post_interval - (now - last))
            state._last_post[channel] = now
            return
        window = [t for t in state._arrivals.get(method, []) if now - t < state.rate_window]
        if len(window) >= state.tier_limits[tier]:
            state._arrivals[method] = window
            raise _ratelimited(state.rate_window - (now - window[0]))
        state._arrivals[method] = [*window, now]

    def readable(params: dict[str, Any], scope: str | None) -> dict[str, Any]:
        """The channel the bot may use: it exists, the token has the scope, the bot is a member."""
        channel = state.channels.get(str(params.get("channel", "")))
        if channel is None:
            raise SlackApiError("channel_not_found")
        if scope == "history":
            need("groups:history" if channel["is_private"] else "channels:history")
        elif scope:
            need(scope)
        if state.bot_user not in channel["members"]:
            raise SlackApiError("channel_not_found" if channel["is_private"] else "not_in_channel")
        return channel

    def message_of(params: dict[str, Any], key: str, error: str = "message_not_found") -> dict[str, Any]:
        found = state.find(str(params["channel"]), str(params.get(key, "")))
        if found is None:
            raise SlackApiError(error)
        return found

    def history(params: dict[str, Any]) -> dict[str, Any]:
        channel = readable(params, "history")
        inclusive = _flag(params.get("inclusive"))
        oldest = _ts(params.get("oldest"), 0.0, "invalid_ts_oldest")
        latest = _ts(params.get("latest"), math.inf, "invalid_ts_latest")
        top = [
            m
            for m in reversed(state.messages[channel["id"]])
            if m.get("thread_ts", m["ts"]) == m["ts"]
            and (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
            and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)
        ]
        if params.get("cursor"):
            start = float(_uncursor("next_ts", str(params["cursor"])))
            top = [m for m in top if float(m["ts"]) <= start]
        page, after = _page(top, _limit(params.get("limit"), HISTORY_LIMIT, HISTORY_MAX), _ts_cursor)
        return {
            "messages": page,
            "has_more": bool(after),
            "pin_count": 0,
            "response_metadata": {"next_cursor": after},
        }

    def replies(params: dict[str, Any]) -> dict[str, Any]:
        channel = readable(params, "history")
        head = message_of(params, "ts", "thread_not_found")
        thread_ts = head.get("thread_ts")
        if thread_ts is None or thread_ts != head["ts"]:
            thread = [head]  # a lone message, or one reply asked for by its own ts
        else:
            thread = [m for m in state.messages[channel["id"]] if m.get("thread_ts") == head["ts"]]
        if params.get("cursor"):
            start = float(_uncursor("next_ts", str(params["cursor"])))
            thread = [m for m in thread if float(m["ts"]) >= start and m is not head]
        page, after = _page(thread, _limit(params.get("limit"), REPLIES_LIMIT, REPLIES_LIMIT), _ts_cursor)
        return {"messages": page, "has_more": bool(after), "response_metadata": {"next_cursor": after}}

    def reactions_get(params: dict[str, Any]) -> dict[str, Any]:
        readable(params, "reactions:read")
        message = dict(message_of(params, "timestamp"))
        if "reactions" in message and not _flag(params.get("full")):
            message["reactions"] = [
                {**r, "users": r["users"][:REACTION_USERS_SHOWN]} for r in message["reactions"]
            ]
        return {"type": "message", "channel": params["channel"], "message": message}

    def reactions_add(params: dict[str, Any]) -> dict[str, Any]:
        readable(params, "reactions:write")
        message = message_of(params, "timestamp")
        name = str(params.get("name", "")).strip(":")
        if not name:
            raise SlackApiError("invalid_name")
        reactions = message.setdefault("reactions", [])
        reaction = next((r for r in reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            reactions.append(reaction)
        if state.bot_user in reaction["users"]:
            raise SlackApiError("already_reacted")
        reaction["users"].append(state.bot_user)
        reaction["count"] += 1
        return {}

    def usergroups_list(params: dict[str, Any]) -> dict[str, Any]:
        need("usergroups:read")
        groups = []
        for group in state.usergroups:
            shown = {k: v for k, v in group.items() if k != "users"}
            shown["is_usergroup"] = True
            if _flag(params.get("include_users")):
                shown["users"] = list(group["users"])
            if _flag(params.get("include_count")):
                shown["user_count"] = len(group["users"])
            groups.append(shown)
        return {"usergroups": groups}

    def shown_user(user: dict[str, Any]) -> dict[str, Any]:
        if "users:read.email" in state.scopes:
            return user
        return {**user, "profile": {k: v for k, v in user["profile"].items() if k != "email"}}

    def users_list(params: dict[str, Any]) -> dict[str, Any]:
        need("users:read")
        members = sorted(state.users.values(), key=lambda u: str(u["id"]))
        if params.get("cursor"):
            start = _uncursor("user", str(params["cursor"]))
            members = [u for u in members if str(u["id"]) >= start]
        limit = _limit(params.get("limit"), len(members) or 1, 1000)
        page, after = _page(members, limit, lambda u: _cursor("user", u["id"]))
        return {
            "members": [shown_user(u) for u in page],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": after},
        }

    def users_info(params: dict[str, Any]) -> dict[str, Any]:
        need("users:read")
        user = state.users.get(str(params.get("user", "")))
        if user is None:
            raise SlackApiError("user_not_found")
        return {"user": shown_user(user)}

    def post_message(params: dict[str, Any]) -> dict[str, Any]:
        channel = readable(params, "chat:write")
        text = str(params.get("text") or "")
        if not text and not params.get("blocks"):
            raise SlackApiError("no_text")
        thread_ts = params.get("thread_ts") or None
        if thread_ts and state.find(channel["id"], str(thread_ts)) is None:
            raise SlackApiError("thread_not_found")
        message = state.add_message(channel["id"], text, thread_ts=thread_ts)
        if params.get("blocks"):
            blocks = params["blocks"]
            message["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
        message["bot_id"] = "B0SANDBOT"
        return {"channel": channel["id"], "ts": message["ts"], "message": message}

    handlers = {
        "conversations.history": history,
        "conversations.replies": replies,
        "reactions.get": reactions_get,
        "reactions.add": reactions_add,
        "usergroups.list": usergroups_list,
        "users.list": users_list,
        "users.info": users_info,
        "chat.postMessage": post_message,
    }

    async def call(request: Request) -> JSONResponse:
        method = request.path_params["method"]
        state.calls[method] += 1
        headers: dict[str, str] = {}
        try:
            if method not in _METHODS:
                raise SlackApiError("unknown_method", status=404)
            params = await _params(request)
            authorise(request, params)
            tier, _ = _METHODS[method]
            throttle(method, tier, params)
            body = permalink(request, params) if method == "chat.getPermalink" else handlers[method](params)
            return JSONResponse({"ok": True, **body})
        except SlackApiError as refusal:
            if refusal.status == 429:
                headers["Retry-After"] = str(refusal.extra.pop("retry_after"))
            return JSONResponse(
                {"ok": False, "error": refusal.error, **refusal.extra},
                status_code=refusal.status,
                headers=headers,
            )

    def permalink(request: Request, params: dict[str, Any]) -> dict[str, Any]:
        channel = state.channels.get(str(params.get("channel", "")))
        if channel is None:
            raise SlackApiError("channel_not_found")
        message = message_of(params, "message_ts")
        # On the fake's own host, never a slack.com workspace that may be someone's real one.
        link = f"{public_base(request)}/archives/{channel['id']}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts") not in (None, message["ts"]):
            link += f"?thread_ts={message['thread_ts']}&cid={channel['id']}"
        return {"channel": channel["id"], "permalink": link}

    return Router(routes=[Route("/{method}", call, methods=["GET", "POST"])])


def _ts_cursor(message: dict[str, Any]) -> str:
    return _cursor("next_ts", message["ts"])


def _ratelimited(wait: float) -> SlackApiError:
    """Slack's 429: the whole seconds until a request would be taken again, at least 1."""
    return SlackApiError("ratelimited", status=429, retry_after=max(1, math.ceil(wait)))
