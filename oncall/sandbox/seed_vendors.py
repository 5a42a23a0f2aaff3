"""The one seeded scenario, re-expressed in JSM's and Rootly's own shapes.

The OpsGenie week in `seed.py` is the source of truth; these conversions keep every fact
(who paged when, who acknowledged, which incident lasted how long, who was on call) and
change only what each vendor stores differently. The per-source flow tests then compare
reports built from the same facts.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from oncall.sandbox.seed import ROTATION_START, USERS, ZONE, _iso
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sources.jsm.fake import JsmState
from oncall.sources.opsgenie.fake import OpsGenieState, Turn
from oncall.sources.rootly.fake import RootlyState

SEVERITIES = {
    "P1": ("SEV0", "critical"),
    "P2": ("SEV1", "high"),
    "P3": ("SEV2", "medium"),
    "P4": ("SEV3", "low"),
}
CREATED = "2026-01-05T09:00:00.000Z"


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _full_name(email: str) -> str:
    return " ".join(p.capitalize() for p in email.split("@")[0].split("."))


def seed_rootly(og: OpsGenieState) -> RootlyState:
    state = RootlyState()
    user_no = {u["id"]: n for n, u in enumerate(USERS, start=1)}
    by_email = {u["name"]: n for n, u in enumerate(USERS, start=1)}
    for u in USERS:
        state.users[user_no[u["id"]]] = {
            "email": u["name"],
            "first_name": _full_name(u["name"]).split()[0],
            "last_name": _full_name(u["name"]).split()[-1],
            "full_name": _full_name(u["name"]),
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
        ended = _iso(_at(a["createdAt"]) + timedelta(milliseconds=report["closeTime"])) if closed else None
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
                at = _iso(_at(a["createdAt"]) + timedelta(milliseconds=report["ackTime"]))
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


def _account(user_id: str) -> str:
    """A stable Atlassian-style account id for a seeded user."""
    return f"712020:{zlib.crc32(user_id.encode()):08x}-{user_id.removeprefix('u-')}"


def seed_jsm(og: OpsGenieState) -> JsmState:
    state = JsmState()
    account = {u["id"]: _account(u["id"]) for u in USERS}
    by_email = {u["name"]: account[u["id"]] for u in USERS}
    for u in USERS:
        state.users[account[u["id"]]] = {
            "accountId": account[u["id"]],
            "accountType": "atlassian",
            "displayName": _full_name(u["name"]),
            "emailAddress": u["name"],
            "active": True,
            "timeZone": ZONE,
        }

    def ids(name: Any) -> Any:
        return by_email.get(name, name)

    ops = OpsGenieState()
    alerts = []
    for a in og.alerts:
        report = {
            k: ids(v) if k in ("acknowledgedBy", "closedBy") else v
            for k, v in (a.get("report") or {}).items()
        }
        alerts.append({**a, "owner": ids(a.get("owner")), "report": report})
    ops.set_alerts(alerts)
    ops.alert_logs = {k: [{**e, "owner": ids(e["owner"])} for e in v] for k, v in og.alert_logs.items()}
    ops.alert_notes = {k: [{**e, "owner": ids(e["owner"])} for e in v] for k, v in og.alert_notes.items()}
    ops.schedules = [
        {
            **{k: v for k, v in s.items() if k != "ownerTeam"},
            "teamId": (s.get("ownerTeam") or {}).get("id"),
            "rotations": [
                {
                    **r,
                    "participants": [
                        {"type": "user", "id": account.get(p["id"], p["id"])}
                        for p in r.get("participants") or ()
                    ],
                }
                for r in s.get("rotations") or ()
            ],
        }
        for s in og.schedules
    ]
    ops.turns = {
        sid: [Turn(t.start, t.end, {"id": account[t.user["id"]]}, t.override) for t in turns]
        for sid, turns in og.turns.items()
    }
    state.ops = ops

    priorities = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low", "P5": "Lowest"}
    for n, inc in enumerate(og.incidents, start=1):
        timeline = og.timelines.get(inc["id"], [])
        when = {e["type"]: e["eventTime"] for e in timeline}
        resolved = when.get("IncidentResolved")
        status = "Closed" if "IncidentClosed" in when else "Investigating"
        key = f"{state.project}-{inc['tinyId']}"
        owner = state.users.get(by_email.get(inc["owner"], ""))
        state.issues.append(
            {
                "id": str(10000 + n),
                "key": key,
                "fields": {
                    "summary": inc["message"],
                    "issuetype": {"name": "[System] Incident"},
                    "status": {
                        "name": status,
                        "statusCategory": {"key": "done" if resolved else "indeterminate"},
                    },
                    "priority": {"name": priorities[inc["priority"]], "id": inc["priority"][1]},
                    "created": _jira(inc["createdAt"]),
                    "updated": _jira(inc["updatedAt"]),
                    "resolutiondate": _jira(resolved) if resolved else None,
                    "assignee": owner,
                    "labels": list(inc.get("tags") or ()),
                    "components": [{"name": s} for s in inc.get("impactedServices") or ()],
                },
            }
        )
        changes = {
            "ResponderAlertAcked": ("status", "Open", "Investigating"),
            "CustomEntry": ("Timeline", "", None),
            "IncidentResolved": ("resolution", "", "Done"),
            "IncidentClosed": ("status", "Investigating", "Closed"),
        }
        state.changelogs[key] = [
            {
                "id": str(20000 + n * 100 + i),
                "author": owner,
                "created": _jira(e["eventTime"]),
                "items": [
                    {
                        "field": changes[e["type"]][0],
                        "fromString": changes[e["type"]][1],
                        "toString": changes[e["type"]][2] or e["description"]["content"],
                    }
                ],
            }
            for i, e in enumerate(timeline)
            if e["type"] in changes
        ]
    return state


def _jira(iso: str) -> str:
    """Jira's timestamp form: milliseconds and a +0000 offset without a colon."""
    return _at(iso).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_at(iso).microsecond // 1000:03d}+0000"
