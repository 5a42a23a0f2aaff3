"""How `oncall relay` serves the relay app: uvicorn, with limits a public webhook needs.

uvicorn sets no deadline for a new connection to send its request, and its
`limit_concurrency` only answers 503 once a request has arrived: a client that opens
connections and sends nothing holds one file descriptor each, for ever, and past the process's
descriptor limit the server stops accepting, so OpsGenie's real webhook times out. Here each
connection has `header_timeout` to send its request line and headers (again after every
answer on a kept-alive connection), and at most `max_connections` are open: a new one past
the cap closes the connection that has waited longest without sending a request, so a sender
that sends its request at once (a real webhook) is served while idle ones are dropped. The
cap stays below the descriptor limit (`connection_cap`). The body then has the app's deadline
(`deployments.relay.BODY_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import resource
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("oncall.relay")
HEADER_TIMEOUT = 10.0  # seconds to send the request line and headers
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
MAX_CONNECTIONS = 256
MAX_HEADER_BYTES = 8 * 1024  # what h11 buffers of a request line and headers not yet complete
# The event loop accepts up to BACKLOG connections at a time before any of them can be turned
# away, and a closed one frees its descriptor a loop turn later: the cap leaves room for two
# such batches, besides the listening socket, logs and the post to Prefect.
BACKLOG = 32
SPARE_FDS = 2 * BACKLOG + 32


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request's headers and a connection
    cap that drops the longest-idle connection first. `relay_config` sets the two limits."""

    header_timeout: float = HEADER_TIMEOUT
    max_connections: int = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._waiting_since: float | None = None
        super().connection_made(transport)
        self._await_request()
        if sum(1 for c in self.connections if not c.transport.is_closing()) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._request_started()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers are in: the app's deadlines apply now
            self._request_started()

    def on_response_complete(self) -> None:
        self._await_request()  # before uvicorn handles a pipelined request, which cancels it
        super().on_response_complete()

    def _await_request(self) -> None:
        self._request_started()
        self._waiting_since = self.loop.time()
        self._header_timer = self.loop.call_later(self.header_timeout, self._drop, "sent no request in time")

    def _request_started(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = None
        self._waiting_since = None

    def _make_room(self) -> None:
        idle = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol)
            and c is not self
            and c._waiting_since is not None
            and not c.transport.is_closing()
        ]
        if idle:
            min(idle, key=lambda c: c._waiting_since or 0.0)._drop("closed for a newer one (connection cap)")
        else:  # every other connection is busy with a request
            self._drop("refused: every connection is busy (connection cap)")

    def _drop(self, why: str) -> None:
        self._request_started()
        if not self.transport.is_closing():
            log.info("relay: connection from %s %s", self.client[0] if self.client else "-", why)
            self.transport.close()


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """`wanted`, lowered to keep SPARE_FDS of the process's descriptor limit free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - SPARE_FDS))


def relay_config(
    app: Starlette,
    host: str,
    port: int,
    *,
    header_timeout: float = HEADER_TIMEOUT,
    max_connections: int | None = None,
) -> uvicorn.Config:
    """The uvicorn config `oncall relay` runs: the guarded protocol, a short keep-alive, a
    header size limit, and the app's own access log (no query strings) instead of uvicorn's."""
    protocol = type(
        "RelayProtocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections or connection_cap()},
    )
    logging_config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    logging_config["loggers"]["oncall.relay"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        backlog=BACKLOG,
        access_log=False,
        log_config=logging_config,
        log_level="info",
        server_header=False,
    )


def serve_relay(config: uvicorn.Config) -> None:
    """Serve until Ctrl-C or SIGTERM; uvicorn shuts down gracefully, then re-raises Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
