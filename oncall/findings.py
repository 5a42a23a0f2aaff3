"""Operational findings: what the alert data says about a team's operational safety.

The models every part of ops-review speaks: the pure core computes them over a window's alerts
and incidents (`oncall.alert_quality`), ops-review files them as issues through the one issue
lifecycle (`oncall.filing`) and the hand-off shows its shift's top ones. A finding is known
by its kind and subject (an alert kind, a service, a rotation): the fingerprint that an issue's
marker carries, so the same problem found again next week is the same issue.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from oncall.models import Frozen, Priority


class FindingKind(StrEnum):
    FLAPPING = "flapping"  # opened and closed again and again, or reopened soon after closing
    NOISE = "noise"  # pages more often a day than the threshold
    NOBODY_ACKED = "nobody-acked"  # closed unacknowledged: by a person, or by the system after minutes
    RESOLVED_ITSELF = "resolved-itself"  # auto-closed within minutes, nobody acting
    SLEEP_LOAD = "sleep-load"  # pages in the team's night, per rotation (and per person, opt-in)
    ESCALATION_MISS = "escalation-miss"  # a P1/P2 nobody acknowledged within the escalation time
    P1_NO_INCIDENT = "p1-no-incident"  # a P1 alert with no incident, where the source has incidents
    REPEAT_INCIDENTS = "repeat-incidents"  # a service with several incidents in the trend window
    RUNBOOK_QUALITY = "runbook-quality"  # an entry with no Mitigation, a stub, a broken link

    @property
    def fileable(self) -> bool:
        """Runbook quality is listed here but filed by runbook-gaps, which owns the runbook."""
        return self is not FindingKind.RUNBOOK_QUALITY


class Example(Frozen):
    """One alert (or incident) that shows the finding, with its link for a person to click."""

    id: str
    title: str  # untrusted: escaped where it lands
    at: datetime
    url: str | None = None
    priority: Priority | None = None


class Finding(Frozen):
    kind: FindingKind
    subject: str  # the alert kind, service, rotation or entry it is about; untrusted text
    summary: str  # one line for a person, without the subject: "opened and closed 14 times"
    pages: int  # pages it accounts for in the window: how findings are ranked
    # the counts behind the summary, by name
    evidence: dict[str, int | float | str] = Field(default_factory=dict)
    examples: tuple[Example, ...] = ()  # a few, most recent first

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.kind, self.subject)


def fingerprint(kind: FindingKind, subject: str) -> str:
    """Stable across runs and wording: the kind and the subject only. A function too, so the
    digest can name the finding behind an issue's marker without computing the finding."""
    return hashlib.sha256(f"{kind.value}\0{subject}".encode()).hexdigest()[:16]
