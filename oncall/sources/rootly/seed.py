"""The seeded week in Rootly's own shapes: users, alerts with events, incidents with their
severity and events, schedules with rotations. Every fact (who paged when, who acknowledged,
which incident lasted how long, who was on call) is kept; only what Rootly stores differently
changes, so the per-source flow tests compare reports built from the same facts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oncall.sandbox.seed import CREATED, ROTATION_START, USERS, ZONE, full_name, instant, iso
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sandbox.week import Turn, Week
from oncall.sources.rootly.fake import State

SEVERITIES = {
    "P1": ("SEV0", "critical"),
    "P2": ("SEV1", "high"),
    "P3": ("SEV2", "medium"),
    "P4": ("SEV3", "low"),
}


def seed(og: Week) -> State:
    state = State()
    user_no = {u["id"]: n for n, u in enumerate(USERS, start=1)}
    by_email = {u["name"]: n for n, u in enumerate(USERS, start=1)}
    for u in USERS:
        state.users[user_no[u["id"]]] = {
            "email": u["name"],
            "first_name": full_name(u["name"]).split()[0],
            "last_name": full_name(u["name"]).split()[-1],
            "full_name": full_name(u["name"]),
            "time_zone": ZONE,
            "created_at": CREATED,
            "updated_at": CREATED,
        }

    def event_user(email: str) -> dict[str, Any] | None:
        n = by_email.get(email)
        if n is None:
            return None
        return {"id": n, "name": state.users[n]["full_name"], **state.users[n]}

    alerts = []
    for a in og.alerts:
        report = a.get("report") or {}
        closed = a["status"] == "closed"
        ended = iso(instant(a["createdAt"]) + timedelta(milliseconds=report["closeTime"])) if closed else None
        status = "resolved" if closed else ("acknowledged" if a.get("acknowledged") else "triggered")
        alerts.append(
            {
                "id": a["id"],
                "type": "alerts",
                "attributes": {
                    "short_id": a["tinyId"],
                    "source": "alertmanager",
                    "status": status,
                    "summary": a["message"],
                    "description": a.get("description"),
                    "services": [],
                    "groups": [],
                    "environments": [],
                    "labels": [{"key": t, "value": True} for t in a.get("tags") or ()],
                    "data": a.get("details"),
                    "noise": "not_noise",
                    "deduplication_key": a.get("alias"),
                    "external_url": None,
                    "url": f"{SANDBOX_WEB}/rootly/account/alerts/{a['id']}",
                    "started_at": a["createdAt"],
                    "ended_at": ended,
                    "created_at": a["createdAt"],
                    "updated_at": a["updatedAt"],
                },
            }
        )
        events = []
        for i, log in enumerate(og.alert_logs.get(a["id"], [])):
            action = {"alertAck": "acknowledged", "alertClose": "resolved"}.get(log["type"])
            if action is None:
                action = "escalated" if log["log"].startswith("Escalated") else "created"
            at = log["createdAt"]
            if action == "acknowledged":  # exactly report.ackTime after creation, as OpsGenie reports it
                at = iso(instant(a["createdAt"]) + timedelta(milliseconds=report["ackTime"]))
            events.append(
                {
                    "id": f"{a['id']}-ev{i}",
                    "type": "alert_events",
                    "attributes": {
                        "alert_id": a["id"],
                        "kind": "action" if action in ("acknowledged", "resolved") else "informational",
                        "action": action,
                        "source": "web" if action == "acknowledged" else "system",
                        "details": log["log"],
                        "user": event_user(log["owner"]),
                        "created_at": at,
                        "updated_at": at,
                    },
                }
            )
        state.alert_events[a["id"]] = events
    state.set_alerts(alerts)

    for inc in og.incidents:
        timeline = og.timelines.get(inc["id"], [])
        when = {e["type"]: e["eventTime"] for e in timeline}
        name, severity = SEVERITIES[inc["priority"]]
        owner = by_email.get(inc["owner"])
        state.incidents.append(
            {
                "id": inc["id"],
                "type": "incidents",
                "attributes": {
                    "title": inc["message"],
                    "slug": inc["id"],
                    "sequential_id": int(inc["tinyId"]),
                    "summary": inc["message"],
                    "kind": "normal",
                    "status": "closed" if "IncidentClosed" in when else "started",
                    "private": False,
                    "severity": {
                        "data": {
                            "id": f"sev-{severity}",
                            "type": "severities",
                            "attributes": {
                                "name": name,
                                "slug": name.lower(),
                                "severity": severity,
                                "color": "#D61F1F",
                                "position": 1,
                                "created_at": CREATED,
                                "updated_at": CREATED,
                            },
                        }
                    },
                    "labels": {t: "true" for t in inc.get("tags") or ()},
                    "services": [
                        {
                            "data": {
                                "id": s,
                                "type": "services",
                                "attributes": {
                                    "name": s,
                                    "slug": s,
                                    "created_at": CREATED,
                                    "updated_at": CREATED,
                                },
                            }
                        }
                        for s in inc.get("impactedServices") or ()
                    ],
                    "user": {"data": {"id": str(owner), "type": "users", "attributes": state.users[owner]}}
                    if owner
                    else None,
                    "url": f"{SANDBOX_WEB}/rootly/account/incidents/{inc['tinyId']}",
                    "started_at": inc["createdAt"],
                    "detected_at": inc["createdAt"],
                    "acknowledged_at": when.get("ResponderAlertAcked"),
                    "mitigated_at": when.get("IncidentResolved"),
                    "resolved_at": when.get("IncidentResolved"),
                    "closed_at": when.get("IncidentClosed"),
                    "created_at": inc["createdAt"],
                    "updated_at": inc["updatedAt"],
                },
            }
        )
        state.incident_events[inc["id"]] = [
            {
                "id": e["id"],
                "type": "incident_events",
                "attributes": {
                    "event": e["description"]["content"],
                    "visibility": "internal",
                    "occurred_at": e["eventTime"],
                    "created_at": e["eventTime"],
                    "updated_at": e["eventTime"],
                },
            }
            for e in timeline
        ]

    for sch in og.schedules:
        state.schedules.append(
            {
                "id": sch["id"],
                "type": "schedules",
                "attributes": {
                    "name": sch["name"],
                    "description": sch.get("description"),
                    "all_time_coverage": True,
                    "owner_group_ids": [],
                    "owner_user_id": 1,
                    "created_at": CREATED,
                    "updated_at": CREATED,
                },
            }
        )
        state.rotations[sch["id"]] = [
            {
                "id": rot["id"],
                "type": "schedule_rotations",
                "attributes": {
                    "schedule_id": sch["id"],
                    "name": rot["name"],
                    "position": pos,
                    "schedule_rotationable_type": "ScheduleWeeklyRotation",
                    "schedule_rotationable_attributes": {
                        "handoff_day": "SMTWRFU"[ROTATION_START.isoweekday() % 7],  # Sunday first
                        "handoff_time": ROTATION_START.format("HH:mm"),
                    },
                    "active_all_week": True,
                    "time_zone": sch.get("timezone") or ZONE,
                    "start_time": rot["startDate"],
                    "end_time": None,
                },
            }
            for pos, rot in enumerate(sch.get("rotations") or (), start=1)
        ]
        state.turns[sch["id"]] = [
            Turn(t.start, t.end, {"id": str(user_no[t.user["id"]]), "name": t.user["name"]}, t.override)
            for t in og.turns.get(sch["id"], [])
        ]
    return state
