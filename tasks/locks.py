"""Mutual exclusion across flow runs and workers, held by the Prefect server.

Two runs of runbook-gaps (or coe-prep) for the same target must not both decide "no issue
yet" and both create one. A global concurrency limit of 1 per target serialises them; it is
created on first use, because an unknown limit name would silently not limit anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from tasks.delivery import artifact_key


def _ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


@contextmanager
def exclusive(*parts: str, timeout_seconds: float = 600) -> Iterator[None]:
    """Hold the lock named after `parts` (e.g. flow and repository) for the block."""
    name = artifact_key("oncall-lock", *parts)
    _ensure_limit(name)
    # A live holder renews its lease; a killed one's lapses after a minute (Prefect's shortest),
    # so a crash blocks the next run for about that long, not for ever.
    with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True, lease_duration=60):
        yield
