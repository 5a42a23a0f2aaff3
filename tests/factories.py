"""Plain-data builders for core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from oncall.clock import BusinessHours
from oncall.coe import CoeFacts
from oncall.handoff import ShiftContext
from oncall.models import Alert, Incident, OnCall, Person, TimeWindow
from oncall.runbook import RunbookEntry

FIXTURES = Path(__file__).with_name("fixtures")  # vendor specs and real inputs; see its README

START = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # Tue 10:00 New York
END = START + timedelta(days=7)
_ids = count(1)


def alert(
    message: str = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-1 warning)",
    *,
    at: datetime | None = None,
    **kw: Any,
) -> Alert:
    n = next(_ids)
    fields: dict[str, Any] = {
        "id": f"a{n}",
        "tiny_id": str(n),
        "message": message,
        "status": "closed",
        "created_at": at or START + timedelta(hours=n % 100),
    }
    fields.update(kw)
    return Alert(**fields)


def context(**kw: Any) -> ShiftContext:
    fields: dict[str, Any] = {
        "schedule": "Primary",
        "window": TimeWindow(start=START, end=END),
        "timezone": "America/New_York",
        "business_hours": BusinessHours.parse("Mon-Fri 09:00-17:00"),
    }
    fields.update(kw)
    return ShiftContext(**fields)


def on_call(*names: str, at: datetime = END) -> OnCall:
    return OnCall(schedule="Primary", at=at, people=tuple(Person(name=n) for n in names))


def incident(**kw: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": "i1",
        "message": "Outage",
        "status": "closed",
        "created_at": START + timedelta(days=1),
    }
    fields.update(kw)
    return Incident(**fields)


def coe_facts(incident: Incident, **kw: Any) -> CoeFacts:
    """The facts coe-prep gathers, with nothing beyond the incident unless a test adds it."""
    fields: dict[str, Any] = {
        "incident": incident,
        "related": [],
        "timeline": [],
        "on_call": None,
        "timezone": "UTC",
        "source": "opsgenie",
        "prepared_at": incident.created_at + timedelta(days=1),
    }
    fields.update(kw)
    return CoeFacts(**fields)


def runbook_entry(title: str, product: str | None = None, **kw: Any) -> RunbookEntry:
    """A runbook entry with Diagnosis and Mitigation and no stub, at line 1 with no anchor
    unless told: what a test of placing or linking entries needs, without a parse."""
    fields: dict[str, Any] = {
        "title": title,
        "product": product,
        "line": 1,
        "anchor": "",
        "has_diagnosis": True,
        "has_mitigation": True,
        "stub": False,
    }
    return RunbookEntry(**{**fields, **kw})


# A small heading runbook for `oncall runbook check`: two products, one complete entry each,
# and QueueDepthHigh a stub without Mitigation (the listing and the flags have both kinds).
CHECK_RUNBOOK = """# Runbook

## Storage

### DiskFull

_Diagnosis_

Look at `df -h`.

_Mitigation_

Grow the volume.

### QueueDepthHigh

_Diagnosis_

TODO

## API

### HighErrorRate

_Diagnosis_

Dashboards.

_Mitigation_

Roll back.
"""


# Real alert names with digits and mixed case (the first five from tests/fixtures/real and issue 16):
# names, never ids, in kinds and in matching.
DIGIT_NAMES = [
    "APISIXEdge5xxRateFast",
    "MitxOnline500Errors",
    "Http5xxErrorsHigh",
    "DiskUsageAbove90Percent",
    "IPv6RouteMissing",
    "OCWStudio3PlayErrorDetectedProd",
    "K8sApiServerDown",
    "S3BucketErrors",
    "PostgresReplicationLag30s",
    "X509CertExpired",
]
