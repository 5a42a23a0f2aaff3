"""Opt-in: alerts that share one pydantic fields-set, for a process holding a very large window.

Off by default, in workers too. A process opts in with ``ONCALL_LOW_MEMORY=1`` in its
environment (read when this module is first imported), or by calling `enable()` before it
reads alerts; `disable()` turns it off again.

The one trick: pydantic keeps, on every model instance, a set naming the fields it was given
(``__pydantic_fields_set__``): 2,264 bytes for an Alert's 23 fields, where the alert's own
object and field dict take 912. Nothing in oncall asks which fields were set
(``model_fields_set``, ``exclude_unset``), so when this is on every alert is given one shared
set naming all its fields instead of its own. It overwrites a pydantic internal, which is
why it is fenced here and off unless asked for: with it on, ``model_dump(exclude_unset=True)``
of an alert includes every field.

Measured at issue 18 on the 50,000-alert scale scenario (`make bench`; 2 shared cores, load 7–9):

- parsing 50,000 OpsGenie alerts: the alerts take 55 MB with it, 165 MB without;
- peak RSS of the flow process: shift-handoff __SH_ON__ MB with it, __SH_OFF__ MB without; runbook-gaps
  __RG_ON__ MB with it, __RG_OFF__ MB without; the target is under 400 MB;
- time: no difference beyond the noise of the machine (run time __TIME__).

The other tricks issue 18 measured were removed: sharing equal tag and responder tuples
(__SHARE__), pausing and freezing the garbage collector while records were read and
held (__GC__), and returning a task's alerts in a box hidden from Prefect's result
tracking (__BOX__).
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
