"""The flows' lock (`tasks.locks.exclusive`) when another run holds it.

A slot taken with no live lease behind it stands for a run that died holding the lock on a
temporary Prefect server, where nothing frees it.
"""

from __future__ import annotations

import logging
import threading

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

from oncall.errors import LockedError
from tasks.locks import _ensure_limit, exclusive, lock_name


def _occupy(parts: tuple[str, ...], slots: int) -> str:
    name = lock_name(*parts)
    _ensure_limit(name)
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=slots))
    return name


@flow
def _hold(parts: tuple[str, ...], timeout_seconds: float) -> str:
    with exclusive(*parts, timeout_seconds=timeout_seconds):
        return "held"


def test_a_lock_held_past_the_wait_fails_the_run_and_says_how_to_free_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    parts = ("test", "dead-holder")
    name = _occupy(parts, 1)
    with pytest.raises(LockedError) as raised:
        _hold(parts, timeout_seconds=2)
    assert name in str(raised.value)
    assert f"prefect global-concurrency-limit delete {name}" in str(raised.value)
    assert f"Lock {name} is held by another run; waiting up to 2 s" in caplog.text


def test_a_run_waits_for_a_held_lock_and_takes_it_when_it_is_let_go() -> None:
    parts = ("test", "let-go")
    name = _occupy(parts, 1)
    threading.Timer(1.5, _occupy, (parts, 0)).start()
    assert _hold(parts, timeout_seconds=60) == "held"
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).active_slots == 0
