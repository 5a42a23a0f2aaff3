"""Helpers for tests that run real servers in child processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment without this session's ONCALL_* and PREFECT_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ONCALL_", "PREFECT_"))}


@contextmanager
def serving(home: Path, *extra: str, ready_within: float = 240) -> Iterator[str]:
    """`make serve` in a child process; yields the server URL once it says it is ready.
    On exit, Ctrl-C (SIGINT) must stop it cleanly."""
    port, sandbox_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deployments.serve",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
            "--home",
            str(home),
            *extra,
        ],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + ready_within
        while "Ctrl-C stops it." not in "".join(lines):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError("make serve did not get ready:\n" + "".join(lines))
            lines.append(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        proc.stdout.close()
    assert code == 0, "make serve did not stop cleanly on Ctrl-C"
