"""Opt-in: alerts that share what equal alerts hold, for a process holding a very large window.

Off by default, in workers too. A process opts in with ``ONCALL_LOW_MEMORY=1`` in its
environment (read when this module is first imported), or by calling `enable()` before it
reads alerts; `disable()` turns it off again.

The main trick: pydantic keeps, on every model instance, a set naming the fields it was given
(``__pydantic_fields_set__``): 2,264 bytes for an Alert's 23 fields, where the alert's own
object and field dict take 912. Nothing in oncall asks which fields were set
(``model_fields_set``, ``exclude_unset``), so when this is on every alert is given one shared
set naming all its fields instead of its own. It overwrites a pydantic internal, which is
why it is fenced here and off unless asked for: with it on, ``model_dump(exclude_unset=True)``
of an alert includes every field. The second: equal tag and responder tuples (frozen, so
safe to share) are shared, the first one seen standing for the rest.

Measured at issue 18 on the scale scenario (50,000 alerts; `make bench` pieces, each trick
turned off alone in a fresh process; 2 cores shared with other work at load 6-13, so times
move by several seconds between runs and only the memory figures are firm):

| what was on | shift-handoff: run / peak RSS | runbook-gaps: run / peak RSS |
|---|---|---|
| every trick (before issue 18) | 20.7 s / 325 MB | 18.0 s / 357 MB |
| all but the shared fields-set | 19.5 s / 428 MB | 24.1 s / 465 MB |
| all but the shared tuples | 21.9 s / 360 MB | 14.8 s / 398 MB |
| all but the collector pause and freeze | 23.9 s / 316 MB | 26.0 s / 357 MB |
| all but the task's box | 15.5 s / 338 MB | 13.5 s / 369 MB |
| none (this module off) | 14.8 s / 472 MB | 13.2 s / 512 MB |

Parsing 50,000 OpsGenie alerts alone (no Prefect), the alerts take 55 MB with both of this
module's tricks, 165 MB without the shared fields-set, 84 MB without the shared tuples and
193 MB without either; a full collection over them takes 0.5 s with both, 0.9 s without.

So the shared fields-set is needed to hold 50,000 alerts under 400 MB, and the shared tuples
keep runbook-gaps clear of it (398 MB without them, within a run's variation). The other
tricks saved no memory and no time that the runs could show, and were removed: pausing the
garbage collector process-wide while records were read (`gc.disable`) and freezing what the
flow held (`gc.freeze`), and returning a task's alerts in a box that Prefect's result tracking
does not walk into.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

ENV = "ONCALL_LOW_MEMORY"

enabled: bool = os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes", "on"}
_FIELD_SETS: dict[type[Any], set[str]] = {}


def enable() -> None:
    """Alerts built from now on share one fields-set (see the module docstring)."""
    global enabled
    enabled = True


def disable() -> None:
    """Alerts built from now on keep a fields-set each, as pydantic makes them."""
    global enabled
    enabled = False


def lean_alert(alert: Any) -> None:
    """Makes a just-built alert share what equal alerts hold: the fields-set, and equal tag and
    responder tuples (both frozen, so sharing is safe).

    Called from Alert's post-init only while `enabled`. `model_copy` still gives a copy a
    fields-set of its own, as pydantic does.
    """
    cls = type(alert)
    names = _FIELD_SETS.get(cls)
    if names is None:
        names = _FIELD_SETS.setdefault(cls, set(cls.model_fields))
    object.__setattr__(alert, "__pydantic_fields_set__", names)
    if alert.responders:
        object.__setattr__(alert, "responders", _shared(alert.responders))
    if alert.tags:
        object.__setattr__(alert, "tags", _shared(alert.tags))


@lru_cache(maxsize=4096)
def _shared(value: tuple[Any, ...]) -> tuple[Any, ...]:
    """The first-seen tuple equal to `value`."""
    return value
