"""`oncall relay` as served: its logs, and a client that holds connections open.

Each test runs the relay in a child process on 127.0.0.1, with a bounded number of sockets,
and stops it at the end."""

from __future__ import annotations

import json
import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.processes import ROOT, clean_env, free_port

SECRET = "relay-s3cret-4f9c2e"
CLOSE = {
    "action": "IncidentResolve",
    "incident": {
        "id": "inc-9",
        "message": "x",
        "createdAt": 1_763_740_000_000,
        "updatedAt": 1_763_741_800_000,
    },
}
ACK = {**CLOSE, "action": "IncidentAcknowledge"}  # answered 202 "ignored", never forwarded


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"relay did not listen: {log.read_text()[-2000:]}")


@contextmanager
def relay(tmp_path: Path, argv: list[str], *, fd_limit: int | None = None) -> Iterator[tuple[int, Path]]:
    port = free_port()
    env = {
        **clean_env(),
        "ONCALL_RELAY_SECRET": SECRET,
        "ONCALL_USE_PREFECT_CONFIG": "0",
        "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nobody listens: a forward is a 502
    }
    log = tmp_path / "relay.log"

    def limit() -> None:
        if fd_limit:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,
        )
        try:
            _wait_listening(port, proc, log)
            yield port, log
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def test_the_secret_reaches_no_log_line(tmp_path: Path) -> None:
    """uvicorn's access log wrote `POST /opsgenie?token=<secret>`; the relay logs paths only."""
    with relay(tmp_path, [sys.executable, "-m", "deployments.cli", "relay"]) as (port, log):
        url = f"http://127.0.0.1:{port}/opsgenie"
        with httpx.Client(timeout=10) as client:
            assert client.post(f"{url}?token={SECRET}", json=CLOSE).status_code == 401
            assert client.post(f"{url}?x=1&token={SECRET}", json=ACK).status_code == 401
            assert client.post(url, json=ACK, headers={"X-Oncall-Relay-Secret": SECRET}).status_code == 202
            assert client.post(url, json=CLOSE, headers={"X-Oncall-Relay-Secret": SECRET}).status_code == 502
            assert (
                client.post(url, content=b"{", headers={"X-Oncall-Relay-Secret": SECRET}).status_code == 400
            )
            assert (
                client.post(url, json=ACK, headers={"X-Oncall-Relay-Secret": SECRET[:-1]}).status_code == 401
            )
        # Headers that keep coming: h11 holds 8 KiB of an unfinished request, then refuses it.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /opsgenie HTTP/1.1\r\nHost: relay\r\nX-Padding: " + b"a" * 20_000)
            assert s.recv(100).startswith(b"HTTP/1.1 400 ")
    text = log.read_text()
    assert "Traceback" not in text, text  # nor from Ctrl-C
    assert "POST /opsgenie 401" in text and "POST /opsgenie 202" in text  # the access lines are there
    assert SECRET not in text and SECRET[:-1] not in text, text


SERVE = """
import sys
from deployments.relay import build_relay
from deployments.relay_server import relay_config, serve_relay

app = build_relay({secret!r}, "http://127.0.0.1:9/api")
serve_relay(relay_config(app, "127.0.0.1", int(sys.argv[-1]), header_timeout=3.0))
"""


def _open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` connections, each sending half a request and never the rest. They are opened
    in batches under the relay's listen backlog: past it the kernel holds a handshake back for
    a second or more, which would only slow the test down."""
    connected: list[socket.socket] = []
    for first in range(0, count, 16):
        batch = []
        for _ in range(min(16, count - first)):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /opsgenie HTTP/1.1\r\nHost: relay\r\n")
            batch.append(s)
        connected += batch
        time.sleep(0.02)
    return connected


def _wait_closed(idle: list[socket.socket], seconds: float) -> set[socket.socket]:
    """The sockets the relay has not closed after `seconds`."""
    still = set(idle)
    deadline = time.monotonic() + seconds
    while still and time.monotonic() < deadline:
        readable, _, _ = select.select(list(still), [], [], 0.5)
        for s in readable:
            try:
                closed = s.recv(1024) == b""
            except ConnectionResetError:
                closed = True
            if closed:
                still.discard(s)
    return still


def test_idle_connections_do_not_starve_a_real_webhook(tmp_path: Path) -> None:
    """250 connections that send half a request, against a relay allowed 200 descriptors
    (unguarded, it stopped accepting at the limit and the real webhook timed out): the real
    webhook is answered at once, and the relay closes every idle connection, the oldest ones
    first to stay under its cap, the rest when their header deadline (3 s here) passes."""
    script = [sys.executable, "-c", SERVE.format(secret=SECRET)]
    with relay(tmp_path, script, fd_limit=200) as (port, log):
        idle = _open_idle(port, 250)
        try:
            started = time.monotonic()
            r = httpx.post(
                f"http://127.0.0.1:{port}/opsgenie",
                content=json.dumps(ACK),
                headers={"X-Oncall-Relay-Secret": SECRET},
                timeout=5,
            )
            took = time.monotonic() - started
            assert r.status_code == 202 and took < 2.5, (r.status_code, took)
            still = _wait_closed(idle, 6)
            assert not still, f"{len(still)} of {len(idle)} idle connections still open"
        finally:
            for s in idle:
                s.close()
    text = log.read_text()
    assert "Traceback" not in text and "Too many open files" not in text, text[-3000:]
    assert "(connection cap)" in text and "sent no request in time" in text
