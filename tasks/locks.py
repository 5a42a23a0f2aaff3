"""Mutual exclusion across flow runs and workers, held by the Prefect server.

Two runs of runbook-gaps (or coe-prep) for the same target must not both decide "no issue
yet" and both create one. A global concurrency limit of 1 per target serialises them; it is
created on first use, because an unknown limit name would silently not limit anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_run_logger

from oncall.errors import LockedError
from tasks.delivery import artifact_key

# A live holder renews its lease; a killed one's lapses after a minute (Prefect's shortest),
# and a Prefect server's repossessor (every 15 s) then frees the slot.
LEASE_SECONDS = 60


def lock_name(*parts: str) -> str:
    """The global concurrency limit that `exclusive(*parts)` holds."""
    return artifact_key("oncall-lock", *parts)


def _ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


def _slot(name: str, **wait: Any) -> AbstractContextManager[None]:
    return concurrency(name, occupy=1, strict=True, lease_duration=LEASE_SECONDS, **wait)


def _busy(exc: ConcurrencySlotAcquisitionError) -> bool:
    """The server said 423 Locked: every slot is taken (not: no such limit, or no server)."""
    cause = exc.__cause__
    return isinstance(cause, httpx.HTTPStatusError) and cause.response.status_code == 423


@contextmanager
def exclusive(*parts: str, timeout_seconds: float = 600) -> Iterator[None]:
    """Hold the lock named after `parts` (e.g. flow and repository) for the block.

    Taken at once when free. When another run holds it, the run says so in its log and waits;
    after `timeout_seconds` it fails with LockedError, which says how to free a lock whose
    holder died where no repossessor runs (a temporary Prefect server has none).
    """
    name = lock_name(*parts)
    _ensure_limit(name)

    with ExitStack() as held:
        try:
            held.enter_context(_slot(name, max_retries=0))
        except ConcurrencySlotAcquisitionError as exc:
            if not _busy(exc):
                raise
            get_run_logger().info(
                "Lock %s is held by another run; waiting up to %.0f s for it. A run that died "
                "holding it lets go about a minute later on a Prefect server.",
                name,
                timeout_seconds,
            )
            try:
                held.enter_context(_slot(name, timeout_seconds=timeout_seconds))
            except TimeoutError:
                raise LockedError(
                    f"lock {name} was still held by another run after {timeout_seconds:.0f} s. If no "
                    "other run is going, its holder died where no Prefect server frees dead runs' "
                    f"locks (a temporary server); free it with: prefect global-concurrency-limit delete {name}"
                ) from None
        yield
