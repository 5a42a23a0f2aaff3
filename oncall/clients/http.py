"""The HTTP stage every vendor client shares: retries with backoff, then error mapping.

Stages, in order: `_send_with_retries` (429 honouring Retry-After, 5xx, timeouts and dropped
connections, bounded in attempts and in total sleep) then `_raise_for_status` (one error class
per failure, naming the credential *setting*, never its value).

A 429 holds the whole client, not just the request that got it: requests started while the
vendor's wait runs wait for it too. So a throttled vendor sees only the requests already in
flight, not a fresh one from every thread, whatever `ONCALL_MAX_CONCURRENCY` is.

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from oncall.errors import (
    AuthError,
    MalformedError,
    NotFoundError,
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

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


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
    ) -> None:
        _remember_credentials(headers or {}, auth, secrets)
        self.system = system
        self.max_response_bytes = max_response_bytes
        self.deadline = max(30.0, timeout * 3)  # a whole answer, however slowly it drips
        self.credential_setting = credential_setting
        self.retry = retry or RetryPolicy()
        self.sleep = sleep or time.sleep
        self._retry_hint = retry_hint
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
        response = self._send_with_retries(method, path, what, params, json, content, headers, idempotent)
        self._raise_for_status(response, what, idempotent)
        return response

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
    ) -> httpx.Response:
        slept = 0.0
        last_problem = ""
        self._wait_out_hold()
        for attempt in range(1, self.retry.attempts + 1):
            hint: float | None = None
            response: httpx.Response | None
            try:
                request = self.http.build_request(
                    method, path, params=params, json=json, content=content, headers=headers
                )
                response = self._receive(request, what)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                last_problem = f"{type(exc).__name__} (no response)"
                if not idempotent and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    raise UncertainError(
                        self.system,
                        f"{what}: {last_problem}; not retried, the write may or may not have happened",
                    ) from None
                response = None
            else:
                retryable = response.status_code in RETRYABLE and (idempotent or response.status_code == 429)
                if not retryable or attempt == self.retry.attempts:
                    return response
                last_problem = f"HTTP {response.status_code}"
                hint = retry_after_seconds(response.headers)
                if hint is None and self._retry_hint is not None:
                    hint = self._retry_hint(response)
            if attempt == self.retry.attempts:
                break
            backoff = self.retry.backoff(attempt)
            delay = hint if hint is not None else backoff * (0.5 + self._rng.random() / 2)
            if slept + delay > self.retry.max_total_sleep:
                if response is not None:
                    return response
                break
            if response is not None and response.status_code == 429:
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

    def _raise_for_status(self, response: httpx.Response, what: str, idempotent: bool = True) -> None:
        status = response.status_code
        if status < 400:
            return
        vendor = _vendor_message(response)
        if status in (401, 403):
            raise AuthError(
                self.system,
                f"{what}: the credentials were rejected (HTTP {status}: {vendor}); check {self.credential_setting}",
                status=status,
            )
        if status == 404:
            raise NotFoundError(self.system, f"{what} was not found (HTTP 404: {vendor})", status=status)
        if status == 429:
            raise RateLimitedError(
                self.system,
                f"{what}: still rate limited after {self.retry.attempts} tries; run again later",
                status=status,
            )
        if status >= 500 or status == 408:
            tried = (
                "still failing after retries, the service is down or overloaded"
                if idempotent
                else "not retried, the write may or may not have happened"
            )
            error = UnavailableError if idempotent else UncertainError
            raise error(self.system, f"{what}: HTTP {status} ({vendor}); {tried}", status=status)
        raise RejectedError(self.system, f"{what}: HTTP {status}: {vendor}", status=status)


def decode_json(content: bytes) -> Any:
    """A vendor's JSON answer, with every string valid Unicode: a lone surrogate (`"\\ud800"` is
    valid JSON) is replaced by U+FFFD in keys and values alike. Raises ValueError as
    `json.loads` does for what is not JSON."""
    data = jsonlib.loads(content)
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
            return str(body["message"]), 300
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
