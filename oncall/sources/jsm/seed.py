"""The seeded week in JSM's own shapes: Atlassian accounts, the Operations API's alerts and
schedules (OpsGenie's shapes with account ids), incidents as Jira work items with changelogs.
Every fact is kept; only what JSM stores differently changes."""

from __future__ import annotations

import zlib
from typing import Any

from oncall.sandbox.seed import USERS, ZONE, full_name, instant
from oncall.sandbox.week import Turn, Week
from oncall.sources.jsm.fake import State


def _account(user_id: str) -> str:
    """A stable Atlassian-style account id for a seeded user."""
    return f"712020:{zlib.crc32(user_id.encode()):08x}-{user_id.removeprefix('u-')}"


def seed(og: Week) -> State:
    state = State()
    account = {u["id"]: _account(u["id"]) for u in USERS}
    by_email = {u["name"]: account[u["id"]] for u in USERS}
    for u in USERS:
        state.users[account[u["id"]]] = {
            "accountId": account[u["id"]],
            "accountType": "atlassian",
            "displayName": full_name(u["name"]),
            "emailAddress": u["name"],
            "active": True,
            "timeZone": ZONE,
        }

    def ids(name: Any) -> Any:
        return by_email.get(name, name)

    ops = Week()
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
    return instant(iso).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant(iso).microsecond // 1000:03d}+0000"
