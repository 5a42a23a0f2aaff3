"""Latency, injected faults and a request log, wrapped around every fake.

Faults come two ways: random rates (seeded, so a run repeats) and a script of exact faults
("the next 2 requests to /opsgenie/v2/alerts answer 503"). A scripted fault with
`after=True` lets the request reach the fake and then drops its answer (or, with `body`, answers
those bytes instead), the case that makes naive retries create duplicates.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncall.sources import REGISTRY


@dataclass
class FaultRates:
    """Random faults per system; rates are fractions of requests."""

    latency_ms: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_drop: float = 0.0  # the connection closes in the middle of the answer
    rate_slow: float = 0.0  # the answer comes `slow_ms` late, but comes
    rate_lost: float = 0.0  # the fake acts on the request, then the answer is lost (a 502 instead)
    retry_after: int | None = 1  # seconds on injected 429s; None sends no header
    timeout_seconds: float = 30.0
    slow_ms: float = 300.0

    def pick(self, roll: float) -> str | None:
        """The fault a uniform `roll` in [0, 1) lands on, or None for a normal answer."""
        for kind, rate in (
            ("429", self.rate_429),
            ("5xx", self.rate_5xx),
            ("timeout", self.rate_timeout),
            ("drop", self.rate_drop),
            ("slow", self.rate_slow),
            ("lost", self.rate_lost),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None


@dataclass
class ScriptedFault:
    path_prefix: str
    status: int
    times: int = 1
    method: str | None = None
    after: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # answer with exactly these bytes (a malformed or hostile response)
    query: str = ""  # only requests whose query string holds this, e.g. "page=2"


@dataclass
class Served:
    """One request, logged when it arrives (so counts never lag the client); status set on answer.

    `arrived` and `answered` are wall-clock seconds (time.time(), comparable with another
    process's clock on this machine, such as the run times Prefect records): the benchmark
    finds from them how much of a run had no request in flight."""

    system: str
    method: str
    path: str
    query: str
    status: int = 0
    body: bytes = b""
    arrived: float = field(default_factory=time.time)
    answered: float | None = None


def _error_body(system: str, status: int) -> tuple[dict[str, str], bytes, str]:
    """The failure answer of the system mounted at `/<system>`: a source's from its FakeSpec,
    the other systems' here."""
    if system == "slack":
        text = "rate_limited" if status == 429 else "internal_error"
        return {}, text.encode(), "text/plain"
    if system == "slack-api":
        # The Web API's envelope, on its HTTP status: a 429 says `ratelimited` and when to come
        # back (Retry-After, from the fault's headers); a 5xx names one of Slack's common errors.
        if status == 429:
            return {}, json.dumps({"ok": False, "error": "ratelimited"}).encode(), "application/json"
        error = "service_unavailable" if status == 503 else "internal_error"
        return {}, json.dumps({"ok": False, "error": error}).encode(), "application/json"
    headers: dict[str, str] = {}
    body: Any
    fake = next((spec.fake for spec in REGISTRY.values() if spec.fake.mount == system), None)
    if fake is not None:
        headers, body = fake.error(status)
        headers = dict(headers)
    elif system == "google":
        status_name = {
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            502: "UNAVAILABLE",
            503: "UNAVAILABLE",
        }.get(status, "UNKNOWN")
        reason = "rateLimitExceeded" if status == 429 else "backendError"
        message = (
            "Quota exceeded for quota metric 'Requests'." if status == 429 else "Internal error encountered."
        )
        body = {
            "error": {
                "code": status,
                "message": message,
                "status": status_name,
                "errors": [
                    {
                        "message": message,
                        "domain": "usageLimits" if status == 429 else "global",
                        "reason": reason,
                    }
                ],
            }
        }
    elif system == "github":
        texts = {
            403: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            429: "You have exceeded a secondary rate limit.",
            404: "Not Found",
            401: "Bad credentials",
        }
        body = {
            "message": texts.get(status, "Server Error"),
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
        }
    else:
        body = {"message": "Internal Server Error" if status >= 500 else "Error", "took": 0.001}
    return headers, json.dumps(body).encode(), "application/json"


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


class FaultInjector:
    """ASGI middleware: logs every request, then adds latency and faults per system.

    The system is the first path segment (`/opsgenie/...` is OpsGenie). `/_sandbox` control
    requests are neither logged nor faulted.
    """

    def __init__(self, app: ASGIApp, seed: int = 0) -> None:
        self.app = app
        self.rates: dict[str, FaultRates] = {}
        self.script: list[ScriptedFault] = []
        self.served: list[Served] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def reset(self, seed: int = 0) -> None:
        with self._lock:
            self.rates.clear()
            self.script.clear()
            self.served.clear()
            self._rng = random.Random(seed)

    def reseed(self, seed: int = 0) -> None:
        """Restart the random faults, so a test's faults do not depend on the tests that ran
        before it in the same process (xdist deals files to workers in no fixed order)."""
        with self._lock:
            self._rng = random.Random(seed)

    def _take_script(self, method: str, path: str, query: str) -> ScriptedFault | None:
        with self._lock:
            for fault in self.script:
                if (
                    path.startswith(fault.path_prefix)
                    and fault.method in (None, method)
                    and fault.query in query
                    and fault.times > 0
                ):
                    fault.times -= 1
                    return fault
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        system = path.strip("/").split("/", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        record = Served(system, method, path, query)
        self.served.append(record)
        try:
            await self._serve(scope, receive, send, record)
        finally:
            record.answered = time.time()

    async def _serve(self, scope: Scope, receive: Receive, send: Send, record: Served) -> None:
        path, method, system, query = record.path, record.method, record.system, record.query

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                record.body += message.get("body", b"")
            return message

        rates = self.rates.get(system) or self.rates.get("*") or FaultRates()
        if rates.latency_ms:
            await asyncio.sleep(rates.latency_ms / 1000)
        scripted = self._take_script(method, path, query)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        async def dropping_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]

        injected: int | None = None
        extra_headers: dict[str, str] = {}

        async def send_scripted_body(fault: ScriptedFault, body: bytes) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": fault.status,
                    "headers": [(b"content-type", b"application/json"), *_encoded(fault.headers)],
                }
            )
            await send({"type": "http.response.body", "body": body})
            record.status = fault.status

        if scripted and scripted.body is not None and not scripted.after:
            await send_scripted_body(scripted, scripted.body)
            return
        if scripted and not scripted.after:
            injected, extra_headers = scripted.status, scripted.headers
        elif not scripted:
            kind = rates.pick(self._rng.random())
            if kind == "429":
                injected = 429
                if rates.retry_after is not None:
                    extra_headers = {"Retry-After": str(rates.retry_after)}
            elif kind == "5xx":
                injected = self._rng.choice((500, 502, 503))
            elif kind == "timeout":
                await asyncio.sleep(rates.timeout_seconds)
                injected = 504
            elif kind == "drop":
                # Promise more body than is sent: the server closes the connection mid-answer.
                record.status = -1
                await send(
                    {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]}
                )
                await send({"type": "http.response.body", "body": b'{"data": ['})
                return
            elif kind == "slow":
                await asyncio.sleep(rates.slow_ms / 1000)
            elif kind == "lost":
                scripted = ScriptedFault(path_prefix=path, status=502, after=True)

        if injected is None:
            await self.app(scope, recording_receive, dropping_send if scripted else recording_send)
            if scripted and scripted.body is not None:  # the fake acted; the caller gets these bytes
                await send_scripted_body(scripted, scripted.body)
                return
            if scripted:  # the fake acted on it; the caller sees only a failure
                injected, extra_headers = scripted.status, scripted.headers
        if injected is not None:
            headers, body, ctype = _error_body(system, injected)
            headers = {**headers, **extra_headers, "content-type": ctype}
            await send(
                {
                    "type": "http.response.start",
                    "status": injected,
                    "headers": _encoded(headers),
                }
            )
            await send({"type": "http.response.body", "body": body})
            record.status = injected

    def count(self, system: str | None = None, method: str | None = None, path_prefix: str = "") -> int:
        return sum(
            1
            for s in list(self.served)
            if (system is None or s.system == system)
            and (method is None or s.method == method)
            and s.path.startswith(path_prefix)
        )
