"""The HTTP stage every outside client shares: retries with backoff, then error mapping.

Stages, in order: `_send_with_retries` (a rate limit honouring Retry-After, 5xx, timeouts and
dropped connections, bounded in attempts and in total sleep) then `error_for` (one error class
per failure, naming the credential *setting*, never its value, with the vendor's text scrubbed
of every secret). There is no other retry loop and no other error mapper in the product.

The SDK clients go through it too: PyGithub and gspread speak `requests`, so their sessions get
a `StageAdapter` that sends each request through an `ApiClient` (their own retries are off).
Inside a client call (`ApiClient.calling`) a failed answer raises the stage's error there and
then; outside one (a test driving PyGithub itself) the answer is handed back to the SDK as is.

A rate limit (a 429, or what a vendor's `rate_limited` says is one, such as GitHub's 403s) holds
the whole client, not just the request that got it: requests started while the vendor's wait
runs wait for it too. So a throttled vendor sees only the requests already in flight, not a
fresh one from every thread, whatever `ONCALL_MAX_CONCURRENCY` is.

httpx logs full URLs at INFO, and a Slack webhook URL is itself a secret, so its loggers are
held at WARNING here.

Vendor JSON is decoded here and nowhere else (`decode_json`), and that is where untrusted
text is made valid: a lone surrogate becomes U+FFFD, so no model holds a string that a
renderer, a hash or a JSON body could not encode as UTF-8.
"""

from __future__ import annotations

import base64
import email.utils
import json as jsonlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

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
    scrub,
)
from oncall.retry import RetryPolicy as RetryPolicy

for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

log = logging.getLogger("oncall.http")

# A lone surrogate reaches a page as a JSON escape (`\\ud800`..`\\udfff`) or as raw CESU-8
# bytes (ED A0..BF), which `json.loads` lets through too. Only a page holding either is walked;
# a clean page costs two byte searches (about 60 us on a 100-alert page, whose decode takes 1.1 ms).
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")  # one pattern with a literal head: fast
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # decoded, a valid pair is one code point already
# orjson decodes a page in a quarter of json's time (0.4 ms against 1.5 ms on a 100-alert page,
# about 0.5 s of CPU over a 50,000-alert week) and refuses what json reads differently (a lone
# surrogate, a byte order mark, NaN, UTF-16), which then goes to json. The one thing it reads
# differently without refusing is an integer past 64 bits (as a float): a page holding a run of
# 19 digits anywhere goes to json too. Mapping every digit to "0" finds one in 0.13 ms; a regex takes 2.
_DIGITS_AS_ZERO = bytes(ord("0") if chr(i).isdigit() and i < 128 else i for i in range(256))
_LONG_NUMBER = b"0" * 19

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # sent again after any failure: they change nothing


@dataclass(frozen=True)
class _Call:
    api: ApiClient
    what: str


_CALL: ContextVar[_Call | None] = ContextVar("oncall_http_call", default=None)


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class ApiClient:
    """An httpx.Client bound to one vendor, with retries and errors that name what to fix.

    `transport` is the test seam (a sandbox URL or an `httpx.MockTransport`); `sleep` lets
    tests run backoff without waiting.
    """

    def __init__(
        self,
        *,
        system: str,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        credential_setting: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        max_connections: int = 16,
        retry_hint: Callable[[httpx.Response], float | None] | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        secrets: Iterable[str] = (),
        rate_limited: Callable[[httpx.Response], bool] | None = None,
        advice: Mapping[int, str] | None = None,
        write_slot: Callable[[], AbstractContextManager[object]] | None = None,
        uncertain: str = "the write may or may not have happened",
    ) -> None:
        """`retry_hint` is the wait a vendor asks for other than by Retry-After; `rate_limited`
        says which answers besides a 429 mean "slow down" (retried even for a write: the vendor
        did nothing); `advice` adds what to do to the error for a status; `write_slot` wraps each
        request that is not a GET or HEAD (GitHub spaces writes per account with it); `uncertain` is
        what an error says of a write whose answer was lost (what its caller does about it)."""
        _remember_credentials(headers or {}, auth, secrets)
        self.system = system
        self.max_response_bytes = max_response_bytes
        self.deadline = max(30.0, timeout * 3)  # a whole answer, however slowly it drips
        self.credential_setting = credential_setting
        self.retry = retry or RetryPolicy()
        self.sleep = sleep or time.sleep
        self._retry_hint = retry_hint
        self._rate_limited = rate_limited
        self._advice = dict(advice or {})
        self._write_slot = write_slot
        self._uncertain = uncertain
        self._rng = random.Random()
        self._held_until = 0.0  # time.monotonic() before which no new request starts (after a 429)
        self._hold_lock = threading.Lock()
        self.http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response or raise the mapped error about `what`.

        A non-idempotent request (a POST that creates something) is retried only when the
        server cannot have acted on it: a 429, or a connection that never opened. Its callers
        must look for their earlier result by a stable key before writing again.
        """
        response, tries = self._send_with_retries(
            method, path, what, params, json, content, headers, idempotent
        )
        error = self.error_for(response, what, idempotent=idempotent, tries=tries)
        if error is not None:
            raise error
        return response

    @contextmanager
    def calling(self, what: str) -> Iterator[None]:
        """Within this block, a request an SDK sends through this client's `StageAdapter` is
        about `what`, and a failed answer raises the stage's error for it (not the SDK's)."""
        token = _CALL.set(_Call(self, what))
        try:
            yield
        finally:
            _CALL.reset(token)

    def adapter(self, idempotent_methods: Iterable[str] = SAFE_METHODS) -> StageAdapter:
        """A `requests` transport adapter that sends through this client: mount it on an SDK's
        session for both schemes. `idempotent_methods` are the methods retried after a 5xx or a
        lost answer; any other is retried only when the vendor cannot have acted on it."""
        return StageAdapter(self, frozenset(m.upper() for m in idempotent_methods))

    def get_json(self, path: str, *, what: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.request("GET", path, what=what, params=params)
        try:
            return decode_json(response.content)
        except ValueError as exc:
            raise MalformedError(
                self.system, f"{what}: the response is not JSON", status=response.status_code
            ) from exc

    def _send_with_retries(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
    ) -> tuple[httpx.Response, int]:
        """The last answer and how many tries it took; raises only when no answer came."""
        slept = 0.0
        last_problem = ""
        self._wait_out_hold()
        slot = self._write_slot if method.upper() not in ("GET", "HEAD") else None
        for attempt in range(1, self.retry.attempts + 1):
            hint: float | None = None
            response: httpx.Response | None
            try:
                request = self.http.build_request(
                    method, path, params=params, json=json, content=content, headers=headers
                )
                if slot is None:
                    response = self._receive(request, what)
                else:
                    with slot():
                        response = self._receive(request, what)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last_problem = f"{type(exc).__name__} (no response)"
                if not idempotent and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    raise UncertainError(
                        self.system,
                        f"{what}: {last_problem}; not retried, {self._uncertain}",
                    ) from None
                response = None
            else:
                limited = self.is_rate_limit(response)
                retryable = limited or (response.status_code in RETRYABLE and idempotent)
                if not retryable or attempt == self.retry.attempts:
                    return response, attempt
                last_problem = f"HTTP {response.status_code}"
                hint = self.wait_asked(response)
            if attempt == self.retry.attempts:
                break
            backoff = self.retry.backoff(attempt)
            delay = hint if hint is not None else backoff * (0.5 + self._rng.random() / 2)
            if slept + delay > self.retry.max_total_sleep:
                if response is not None:
                    return response, attempt
                break
            if response is not None and limited:
                self._hold(delay)  # logged once here, not by every thread that waits
            log.info("%s: %s on %s, retry %d in %.1fs", self.system, last_problem, what, attempt, delay)
            self.sleep(delay)
            slept += delay
        raise UnavailableError(
            self.system,
            f"{what}: {last_problem} on each of {attempt} tries; "
            "the service is down or unreachable, try again later",
        )

    def _hold(self, seconds: float) -> None:
        """No new request on this client for `seconds`: the vendor asked for a pause, not one thread."""
        with self._hold_lock:
            self._held_until = max(self._held_until, time.monotonic() + seconds)

    def _wait_out_hold(self) -> None:
        """A new request waits out a pause another thread's 429 began (its own retries back off anyway)."""
        wait = self._held_until - time.monotonic()
        if wait > 0:
            log.debug("%s: waiting %.1fs, the pause a 429 asked for", self.system, wait)
            self.sleep(wait)

    def _receive(self, request: httpx.Request, what: str) -> httpx.Response:
        """Send, then read the answer within a size cap and an overall deadline.

        A hostile or broken server cannot make the run hold a huge body in memory (a
        MalformedError, not retried) or drip an answer forever (a timeout, retried).
        """
        response = self.http.send(request, stream=True)
        body = bytearray()
        started = time.monotonic()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise MalformedError(
                        self.system,
                        f"{what}: the response is larger than {self.max_response_bytes // (1024 * 1024)} MB; refused",
                        status=response.status_code,
                    )
                if time.monotonic() - started > self.deadline:
                    raise httpx.ReadTimeout(
                        f"the answer took longer than {self.deadline:.0f}s", request=request
                    )
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request)

    def is_rate_limit(self, response: httpx.Response) -> bool:
        """A 429, or an answer the vendor's `rate_limited` calls one: the vendor did nothing."""
        if response.status_code == 429:
            return True
        return response.status_code >= 400 and self._rate_limited is not None and self._rate_limited(response)

    def wait_asked(self, response: httpx.Response) -> float | None:
        """The seconds the vendor asked to wait: Retry-After, else its own `retry_hint`."""
        hint = retry_after_seconds(response.headers)
        if hint is None and self._retry_hint is not None:
            hint = self._retry_hint(response)
        return hint

    def error_for(
        self, response: httpx.Response, what: str, *, idempotent: bool = True, tries: int | None = None
    ) -> OutsideError | None:
        """The one classification of an answer into the error tree; None for a success."""
        status = response.status_code
        if status < 400:
            return None
        tries = tries if tries is not None else self.retry.attempts
        advice = f"; {self._advice[status]}" if status in self._advice else ""
        if self.is_rate_limit(response):
            wait = self.wait_asked(response)
            message = f"{what}: still rate limited after {tries} tries (HTTP {status}); "
            if wait is not None:
                at = datetime.fromtimestamp(time.time() + wait, UTC)
                message += f"the limit resets at {at:%H:%M:%S} UTC, run again after{advice}"
            else:
                message += f"run again later{advice}"
            limited = RateLimitedError(self.system, message, status=status)
            limited.retry_after = wait
            return limited
        vendor = _vendor_message(response)
        if status in (401, 403):
            return AuthError(
                self.system,
                f"{what}: the credentials were rejected (HTTP {status}: {vendor}); "
                f"check {self.credential_setting}{advice}",
                status=status,
            )
        if status == 404:
            return NotFoundError(
                self.system, f"{what} was not found (HTTP 404: {vendor}){advice}", status=status
            )
        if status >= 500 or status == 408:
            tried = (
                "still failing after retries, the service is down or overloaded"
                if idempotent
                else f"not retried, {self._uncertain}"
            )
            error = UnavailableError if idempotent else UncertainError
            return error(self.system, f"{what}: HTTP {status} ({vendor}); {tried}{advice}", status=status)
        return RejectedError(self.system, f"{what}: HTTP {status}: {vendor}{advice}", status=status)


class StageAdapter(requests.adapters.BaseAdapter):
    """A `requests` transport that sends through an `ApiClient`: how PyGithub and gspread get the
    one stage (retries, the rate-limit hold, the size cap, the error tree, the scrubber).

    Mounted on an SDK's session, it replaces urllib3 and the SDK's own retries. Inside the
    client's `calling` block a failed answer raises the stage's error; outside one the SDK gets
    the answer and raises its own exception, as it would without this adapter. An answer that
    never came is always the stage's UnavailableError (or UncertainError after a write).
    """

    def __init__(self, api: ApiClient, idempotent_methods: frozenset[str]) -> None:
        super().__init__()
        self.api = api
        self.idempotent_methods = idempotent_methods

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = str(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and not isinstance(body, bytes):
            raise TypeError(
                f"{self.api.system}: a streamed request body is not supported ({type(body).__name__})"
            )
        headers = {
            k: v if isinstance(v, str) else v.decode("latin-1")
            for k, v in request.headers.items()
            if k.lower() not in _HOP_HEADERS
        }
        call = _CALL.get()
        mine = call is not None and call.api is self.api
        what = call.what if call is not None and mine else f"{method} {urlsplit(url).path}"
        idempotent = method in self.idempotent_methods
        answer, tries = self.api._send_with_retries(method, url, what, None, None, body, headers, idempotent)
        if mine:
            error = self.api.error_for(answer, what, idempotent=idempotent, tries=tries)
            if error is not None:
                raise error
        return _requests_response(request, answer)

    def close(self) -> None:
        """The ApiClient is its owner's to close."""


_HOP_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "host"})


def _requests_response(request: requests.PreparedRequest, answer: httpx.Response) -> requests.Response:
    """The stage's answer as `requests` would have built it (its body already read)."""
    response = requests.Response()
    response.status_code = answer.status_code
    response.headers = CaseInsensitiveDict(answer.headers.items())
    response._content = answer.content
    response._content_consumed = True
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    response.reason = answer.reason_phrase
    response.url = str(request.url)
    response.request = request
    return response


def decode_json(content: bytes) -> Any:
    """A vendor's JSON answer, with every string valid Unicode: a lone surrogate (`"\\ud800"` is
    valid JSON) is replaced by U+FFFD in keys and values alike. Raises ValueError as
    `json.loads` does for what is not JSON."""
    data: Any
    if _LONG_NUMBER in content.translate(_DIGITS_AS_ZERO):
        data = jsonlib.loads(content)
    else:
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError:
            data = jsonlib.loads(content)  # json's answer (or its error) for what orjson refuses
    if _ESCAPED_SURROGATE.search(content) or (b"\xed" in content and _RAW_SURROGATE.search(content)):
        return _valid_text(data)
    return data


def _valid_text(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    return value


def _remember_credentials(
    headers: Mapping[str, str], auth: httpx.Auth | None, secrets: Iterable[str]
) -> None:
    """Everything this client sends that is secret, for `scrub`: its own `secrets` (a webhook
    URL), the credential in an Authorization header, and a Basic credential with its parts."""
    for secret in secrets:
        remember_secret(secret)
    for name, value in headers.items():
        if name.lower() == "authorization":
            remember_secret(value)
            remember_secret(value.split(" ", 1)[-1])
    if isinstance(auth, httpx.BasicAuth):
        sent = next(auth.sync_auth_flow(httpx.Request("GET", "http://credential.invalid")))
        encoded = sent.headers["Authorization"].split(" ", 1)[-1]
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        remember_secret(password, user=user)


def _vendor_message(response: httpx.Response) -> str:
    """The vendor's own error text, scrubbed of every secret and then cut short (in that order,
    or a cut could keep a secret's beginning); covers OpsGenie, JSM, Rootly, GitHub, Google, Slack."""
    text, limit = _vendor_text(response)
    return scrub(text[: limit + 4096])[:limit].strip() or response.reason_phrase


def _vendor_text(response: httpx.Response) -> tuple[str, int]:
    try:
        body = response.json()
    except ValueError:
        return response.text, 200
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"]) + _field_errors(body.get("errors")), 300
        if isinstance(body.get("error"), dict) and isinstance(body["error"].get("message"), str):
            return str(body["error"]["message"]), 300
        if isinstance(body.get("error"), str):
            return str(body["error"]), 300
        if isinstance(body.get("errorMessages"), list) and body["errorMessages"]:  # Jira
            return str(body["errorMessages"][0]), 300
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("detail") or first.get("title") or first), 300
    return str(body), 200


def _field_errors(errors: Any) -> str:
    """GitHub's 422 names each refused field beside its message: ' (title: title is too long
    (maximum is 256 characters))'; a pull request's refusal says why in its `message`."""
    if not isinstance(errors, list) or not errors:
        return ""
    said = [
        f"{e.get('field', '?')}: {e.get('message') or e.get('code', '?')}" if isinstance(e, dict) else str(e)
        for e in errors
    ]
    return f" ({'; '.join(said)})"
