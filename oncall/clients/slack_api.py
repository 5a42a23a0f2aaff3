"""The Slack Web API as @SRE requests use it, on the official slack_sdk WebClient.

slack_sdk brings cursor paging and the 429 handler that honours Retry-After, so this module
adds only what the product needs around them: which failures are retried, and the project's
error types with one line that names what to fix. Slack refuses on HTTP 200 with
`{"ok": false, "error": ...}`, which the shared HTTP stage (`oncall.clients.http`) cannot see,
so the mapping of Slack's error words lives here.

Retries: a 429 is always retried (Slack did nothing). A read is also retried after a 5xx, a
timeout or a dropped connection. A write (chat.postMessage, reactions.add) is retried only when
the connection was refused, that is before anything was sent: once sent, its answer may be lost
after Slack posted, and a retry would post twice (slack_sdk's own ConnectionErrorRetryHandler
retries any method, so it is not used).

Channels are ids (C…, G…): the fake serves no conversations.list, and the settings
(`sre_channels`) already hold ids, so a name is never looked up.

The bot token is registered with `scrub`; no message here quotes Slack's text other than its
error word, and no error chains the SDK's exception (whose text holds the whole response).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import HTTPError, URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse

from oncall.errors import (
    AuthError,
    MalformedError,
    NotFoundError,
    OutsideError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
    UncertainError,
    remember_secret,
)

SYSTEM = "Slack"
SETTING = "ONCALL_SLACK_BOT_TOKEN (Secret block 'oncall-slack-bot-token')"
PAGE = 200  # Slack's recommended page size (docs.slack.dev/apis/web-api/pagination); its cap is 999
WRITES = frozenset({"chat.postMessage", "reactions.add"})
_AUTH = frozenset({"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"})
_GONE = frozenset({"message_not_found", "thread_not_found"})
_DOWN = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
_DROPPED = (URLError, ConnectionError, RemoteDisconnected, TimeoutError, socket.timeout)


class MessageNotFoundError(NotFoundError):
    """The message (or thread) is gone: deleted before the run got to it. Callers skip it and say so."""

    def __init__(self, channel: str, ts: str) -> None:
        super().__init__(
            SYSTEM, f"message {ts} in {channel} was deleted (or never existed); skipped", status=200
        )
        self.channel, self.ts = channel, ts


def _method(request: HttpRequest) -> str:
    return request.url.rstrip("/").rsplit("/", 1)[-1]


def _refused(error: BaseException | None) -> bool:
    """The connection never opened, so nothing was sent."""
    reason = error.reason if isinstance(error, URLError) and not isinstance(error, HTTPError) else error
    return isinstance(reason, ConnectionRefusedError)


class _SafeRetry(RetryHandler):
    """Reads again after a 5xx or a lost connection; a write only when it was never sent."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method(request) in WRITES:
            return response is None and _refused(error)
        if response is not None:
            return response.status_code in (500, 502, 503, 504)
        return isinstance(error, _DROPPED)


class SlackApi:
    """One bot token on one workspace. Methods return Slack's raw dicts (the core parses them)."""

    def __init__(
        self, token: str, base_url: str = "https://slack.com/api/", *, timeout: float = 30.0, retries: int = 3
    ) -> None:
        remember_secret(token)
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._client = WebClient(
            token=token,
            base_url=self._base_url,
            timeout=int(max(1, timeout)),
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=retries),
                _SafeRetry(max_retry_count=retries),
            ],
        )

    def __repr__(self) -> str:
        return f"SlackApi({self._base_url!r})"

    # -- reads ---------------------------------------------------------------------------------

    def group_id(self, handle: str) -> str | None:
        """The user group's id by its handle (`sre` or `@sre`), None when there is none."""
        wanted = handle.lstrip("@").lower()
        found = self._call("usergroups.list", "user groups", self._client.usergroups_list)
        groups = _list(found, "usergroups", "usergroups.list")
        return next((str(g["id"]) for g in groups if str(g.get("handle", "")).lower() == wanted), None)

    def group_members(self, group_id: str) -> list[str]:
        """The user ids in the group, from usergroups.list with include_users: the same scope
        (usergroups:read) as usergroups.users.list, which the fake does not serve."""
        found = self._call(
            "usergroups.list", "user groups", lambda: self._client.usergroups_list(include_users=True)
        )
        group = next(
            (g for g in _list(found, "usergroups", "usergroups.list") if g.get("id") == group_id), None
        )
        if group is None:
            raise NotFoundError(SYSTEM, f"user group {group_id} was not found in usergroups.list", status=200)
        return [str(u) for u in group.get("users") or []]

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """The member whose profile email is `email` (any case), by a users.list scan."""
        wanted, seen_email = email.strip().lower(), False
        for page in self._pages("users.list", "users", lambda: self._client.users_list(limit=PAGE)):
            for user in _list(page, "members", "users.list"):
                shown = str((user.get("profile") or {}).get("email") or "")
                seen_email = seen_email or bool(shown)
                if shown.lower() == wanted:
                    return dict(user)
        if not seen_email:
            raise AuthError(
                SYSTEM,
                f"users.list shows no member's email, so {email} cannot be matched: the bot token "
                f"needs the `users:read.email` scope (add it to the Slack app and reinstall; {SETTING})",
                status=200,
            )
        return None

    def history(
        self, channel: str, oldest: str | float, latest: str | float, *, inclusive: bool = False
    ) -> list[dict[str, Any]]:
        """The channel's top-level messages in the window, newest first, in pages of 200."""
        messages: list[dict[str, Any]] = []
        for page in self._pages(
            "conversations.history",
            f"history of {channel}",
            lambda: self._client.conversations_history(
                channel=channel, oldest=_ts(oldest), latest=_ts(latest), inclusive=inclusive, limit=PAGE
            ),
            channel=channel,
        ):
            messages += _list(page, "messages", "conversations.history")
        return messages

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The thread, parent first, every page; a message seen twice (Slack may repeat the
        parent on later pages) is kept once."""
        seen: dict[str, dict[str, Any]] = {}
        for page in self._pages(
            "conversations.replies",
            f"thread {ts} in {channel}",
            lambda: self._client.conversations_replies(channel=channel, ts=ts, limit=PAGE),
            channel=channel,
            ts=ts,
        ):
            for message in _list(page, "messages", "conversations.replies"):
                seen.setdefault(str(message.get("ts")), message)
        return list(seen.values())

    def permalink(self, channel: str, ts: str) -> str:
        found = self._call(
            "chat.getPermalink",
            f"link to {ts} in {channel}",
            lambda: self._client.chat_getPermalink(channel=channel, message_ts=ts),
            channel=channel,
            ts=ts,
        )
        return _field(found, "permalink", "chat.getPermalink")

    def reactions(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Every reaction on the message, with all its users (`full`)."""
        found = self._call(
            "reactions.get",
            f"reactions on {ts} in {channel}",
            lambda: self._client.reactions_get(channel=channel, timestamp=ts, full=True),
            channel=channel,
            ts=ts,
        )
        message = found.get("message")
        if not isinstance(message, dict):
            raise MalformedError(SYSTEM, "reactions.get answered without its `message`", status=200)
        return list(message.get("reactions") or [])

    # -- writes --------------------------------------------------------------------------------

    def post_reply(self, channel: str, thread_ts: str, text: str) -> str:
        """Reply in the thread; returns the reply's ts. UncertainError: it may have been posted."""
        found = self._call(
            "chat.postMessage",
            f"reply in thread {thread_ts} in {channel}",
            lambda: self._client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text),
            channel=channel,
            ts=thread_ts,
        )
        return _field(found, "ts", "chat.postMessage")

    def add_reaction(self, channel: str, ts: str, name: str) -> None:
        """React with `name` (no colons); a reaction the bot already left counts as done."""
        self._call(
            "reactions.add",
            f"reaction :{name}: on {ts} in {channel}",
            lambda: self._client.reactions_add(channel=channel, timestamp=ts, name=name.strip(":")),
            done="already_reacted",
            channel=channel,
            ts=ts,
        )

    # -- the stage -----------------------------------------------------------------------------

    def _pages(
        self, method: str, what: str, first: Callable[[], SlackResponse], **where: str
    ) -> Iterator[SlackResponse]:
        """Each page by `response_metadata.next_cursor`, every one mapped to the project's errors."""
        pages = iter(self._call(method, what, first, **where))
        while True:
            page = self._call(method, what, lambda: next(pages, None), **where)
            if page is None:
                return
            yield page

    def _call(self, method: str, what: str, send: Callable[[], Any], *, done: str = "", **where: str) -> Any:
        """`send()`'s answer; Slack's refusal `done` means the work was already done (None)."""
        try:
            return send()
        except SlackApiError as exc:
            if done and isinstance(exc.response.data, dict) and exc.response.data.get("error") == done:
                return None
            raise _mapped(method, what, exc.response, **where) from None
        except SlackClientError as exc:
            raise MalformedError(
                SYSTEM, f"{what} ({method}): not Slack's answer ({type(exc).__name__})", status=None
            ) from None
        except _DROPPED as exc:
            problem = type(exc).__name__
            if method in WRITES and not _refused(exc):
                raise UncertainError(
                    SYSTEM,
                    f"{what} ({method}): {problem} after it was sent; not retried, as Slack may "
                    "have acted on it: look before trying again",
                ) from None
            raise UnavailableError(
                SYSTEM, f"{what} ({method}): {problem} on every try; is slack.com reachable from this worker?"
            ) from None


def _mapped(method: str, what: str, response: SlackResponse, channel: str = "", ts: str = "") -> OutsideError:
    """Slack's refusal as the project's error, in one line naming what to fix."""
    status = response.status_code
    body = response.data if isinstance(response.data, dict) else {}
    error = str(body.get("error") or f"HTTP {status}")
    said = f"{what} ({method}): Slack answered `{error}`"
    mapped: OutsideError
    if status == 429 or error == "ratelimited":
        limited = RateLimitedError(
            SYSTEM, f"{said}, still rate limited after the retries; run again later", status=status
        )
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        value = retry_after[0] if isinstance(retry_after, list) and retry_after else retry_after
        limited.retry_after = float(value) if isinstance(value, str) and value.isdigit() else None
        mapped = limited
    elif error in _AUTH:
        mapped = AuthError(SYSTEM, f"{said}: the bot token was refused; check {SETTING}", status=status)
    elif error == "missing_scope":
        needed = body.get("needed") or "?"
        mapped = AuthError(
            SYSTEM,
            f"{said}: the bot token needs the `{needed}` scope; add it to the Slack app, reinstall it "
            f"and update {SETTING}",
            status=status,
        )
    elif error == "not_in_channel":
        mapped = AuthError(
            SYSTEM,
            f"{said}: the bot is not a member; /invite the bot to <#{channel}> in Slack",
            status=status,
        )
    elif error == "channel_not_found":
        mapped = NotFoundError(
            SYSTEM,
            f"{said}: no channel {channel} the bot can see; use a channel id (C…) in ONCALL_SRE_CHANNELS, "
            "and /invite the bot to a private channel",
            status=status,
        )
    elif error in _GONE and ts:
        mapped = MessageNotFoundError(channel, ts)
    elif status >= 500 or error in _DOWN:
        if method in WRITES:
            mapped = UncertainError(
                SYSTEM,
                f"{said}; not retried, as Slack may have acted on it: look before trying again",
                status=status,
            )
        else:
            mapped = UnavailableError(
                SYSTEM, f"{said} on every try; Slack is down, try again later", status=status
            )
    else:
        mapped = RejectedError(SYSTEM, f"{said}", status=status)
    return mapped


def _ts(value: str | float) -> str:
    return value if isinstance(value, str) else f"{value:.6f}"


def _list(page: Any, key: str, method: str) -> list[dict[str, Any]]:
    items = page.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise MalformedError(SYSTEM, f"{method} answered without a list of `{key}`", status=200)
    return items


def _field(found: Any, key: str, method: str) -> str:
    value = found.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedError(SYSTEM, f"{method} answered without its `{key}`", status=200)
    return value
