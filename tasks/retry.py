"""Task-level retries for outside outages only.

Clients already retry single requests. A task retry (30 s later) is for a system that was
down for a minute; retrying bad input or rejected credentials would only delay the error.
"""

from __future__ import annotations

from typing import Any

from prefect.client.schemas.objects import State, TaskRun

from oncall.errors import RateLimitedError, UnavailableError


def outage_only(task: Any, task_run: TaskRun, state: State[Any]) -> bool:
    """retry_condition_fn: retry when the failure was an outage or a rate limit, nothing else."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, UnavailableError | RateLimitedError)
