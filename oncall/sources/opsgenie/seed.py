"""The seeded week as OpsGenie's fake holds it: the week is in OpsGenie's shapes already."""

from __future__ import annotations

from dataclasses import fields

from oncall.sandbox.week import Week
from oncall.sources.opsgenie.fake import State


def seed(week: Week) -> State:
    """Served as it is (its indexes too, as sorting 50,000 alerts again costs seconds), with a
    query cache of its own."""
    served = {f.name: getattr(week, f.name) for f in fields(Week)}
    return State(**{**served, "_cache": {}})
