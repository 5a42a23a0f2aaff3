"""One set of outside clients per flow run, shared by its tasks.

Each flow opens `run_clients(settings)` around its body; every task inside asks `clients(settings)`
for the run's `oncall.wiring.Clients` instead of building its own, so a client is built once per
run (a JSM hand-off looks its cloud id up once, not once per task) and closed when the run ends,
whether it succeeded or failed. The run's clients ride in a context variable, which Prefect's
task runners copy into the threads that run submitted tasks; `flow.fn()` opens them the same way.

A task called outside any flow run (`task.fn()` in a test, a command) gets clients of its own,
closed when its `with` block ends, as before.

Test seam: `use_source(source)` makes every run opened inside it (and every task outside a run)
read alerts from `source`, e.g. the in-memory `oncall.sandbox.memory.MemorySource`, instead of
building the source ONCALL_SOURCE names:

    with use_source(MemorySource(week)):
        shift_handoff()          # or shift_handoff.fn(), or fetch_alerts.fn(settings, query)

The given source is not closed by the runs; whoever made it closes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from oncall.wiring import Clients

if TYPE_CHECKING:
    from oncall.settings import Settings
    from oncall.sources import AlertSource

_RUN: ContextVar[Clients | None] = ContextVar("oncall_run_clients", default=None)
_GIVEN: list[AlertSource] = []  # the test seam's source, innermost last


@contextmanager
def use_source(source: AlertSource) -> Iterator[AlertSource]:
    """Test seam: runs opened and tasks run inside this block use `source` as their AlertSource."""
    _GIVEN.append(source)
    try:
        yield source
    finally:
        _GIVEN.remove(source)


def _new(settings: Settings) -> Clients:
    return Clients(settings, source=_GIVEN[-1] if _GIVEN else None)


@contextmanager
def run_clients(settings: Settings) -> Iterator[Clients]:
    """The flow run's clients, built on first use and closed when the block ends. A flow opens
    this once, around everything after resolving its settings."""
    with _new(settings) as run:
        token = _RUN.set(run)
        try:
            yield run
        finally:
            _RUN.reset(token)


@contextmanager
def clients(settings: Settings) -> Iterator[Clients]:
    """For a task: the run's clients (left open for the run's other tasks), or, outside a run
    or for other settings than the run's, clients of its own, closed when the block ends."""
    run = _RUN.get()
    if run is not None and (run.settings is settings or run.settings == settings):
        yield run
        return
    with _new(settings) as own:
        yield own
