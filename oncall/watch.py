"""incident-watch, decided: which closed incidents and alerts deserve a COE event.

Pure. An incident qualifies when it lasted at least the threshold; a closed P1/P2 alert
qualifies the same way unless it belongs to a qualifying incident (so a team with incidents
gets one COE, not one per alert). Event ids are derived from the incident id, so two watch
runs that see the same incident emit the same event.

The window starts at the watermark only while the watermark lies in the past; see
`watch_start` for what a run does with one it cannot trust.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from oncall.clock import parse_instant
from oncall.coe import coe_refusal, incident_from_alert, related_alerts
from oncall.errors import InputError
from oncall.models import Alert, Incident, priority_label

EVENT = "oncall.incident.closed"
ID_LABEL = "oncall.incident.id"
_NAMESPACE = uuid.UUID("8f5b8f0e-3c1a-4c7e-9a57-0c0ffee0c0e5")
# How far back a run looks when the watermark cannot be trusted. The last good run's time is
# then unknown; a week covers a clock fault over a long weekend, and looking back too far is
# harmless: the same incident gives the same event id, and coe-prep makes one COE per incident.
RECOVERY_LOOKBACK = timedelta(days=7)


class WatchStart(BaseModel):
    model_config = ConfigDict(frozen=True)

    since: datetime
    problem: str | None = None  # why the stored watermark was not used; None when it was


def watch_start(
    stored: object, until: datetime, lookback: timedelta, recovery: timedelta = RECOVERY_LOOKBACK
) -> WatchStart:
    """Where a watch run's window starts, from the stored watermark and the run's own end.

    No watermark (the first run): `lookback` before `until`. A watermark in the past: the
    watermark. One that is unreadable, or not before `until` (a clock that jumped ahead and
    came back, a hand edit), names no instant this run can trust, and a window from it would
    be empty or inverted; the incidents that closed since the last good run must still be
    found, so the run looks back the longer of `lookback` and `recovery`, and says why.
    """
    if stored is None or stored == "":
        return WatchStart(since=until - lookback)
    shown = str(stored)[:80]
    try:
        mark = parse_instant(str(stored), "UTC")
    except InputError:
        problem = f"watermark {shown!r} is not an ISO-8601 time"
    else:
        if mark < until:
            return WatchStart(since=mark)
        problem = (
            f"watermark {mark.isoformat()} is not before now ({until.isoformat()}): "
            "a clock that jumped ahead, or a hand edit"
        )
    return WatchStart(since=until - max(lookback, recovery), problem=problem)


class CoeCandidate(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: str  # `alert-<id>` for an alert standing in for an incident
    kind: str  # incident | alert
    title: str
    priority: str
    duration_minutes: float

    @property
    def resource_id(self) -> str:
        return f"oncall.incident.{self.incident_id}"

    @property
    def resource(self) -> dict[str, str]:
        """The event's resource, for both emitters (incident-watch and the relay). The id rides
        whole in its own label: an id may hold dots, so it cannot be cut back out of the
        resource id. prefect.yaml templates coe-prep's `incident_id` from that label."""
        return {
            "prefect.resource.id": self.resource_id,
            "prefect.resource.name": self.title[:100],
            ID_LABEL: self.incident_id,
        }

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.uuid5(_NAMESPACE, self.resource_id)


def coe_candidates(
    incidents: list[Incident], alerts: list[Alert], threshold: timedelta
) -> list[CoeCandidate]:
    out: list[CoeCandidate] = []
    long_incidents = [i for i in incidents if coe_refusal("incident", i.id, i.duration, threshold) is None]
    for inc in long_incidents:
        assert inc.duration is not None
        out.append(
            CoeCandidate(
                incident_id=inc.id,
                kind="incident",
                title=inc.message,
                priority=priority_label(inc.priority),
                duration_minutes=round(inc.duration.total_seconds() / 60, 1),
            )
        )
    covered = {a.id for inc in long_incidents for a in related_alerts(inc, alerts)}
    for alert in alerts:
        if alert.id in covered or alert.is_open:
            continue
        if coe_refusal("alert", alert.id, alert.close_after, threshold, alert.priority) is not None:
            continue
        assert alert.close_after is not None
        stand_in = incident_from_alert(alert)
        out.append(
            CoeCandidate(
                incident_id=stand_in.id,
                kind="alert",
                title=alert.message,
                priority=priority_label(alert.priority),
                duration_minutes=round(alert.close_after.total_seconds() / 60, 1),
            )
        )
    return out
