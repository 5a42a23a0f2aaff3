"""The seeded week in PagerDuty's own shapes. Every fact is kept (who paged when, who acknowledged
and resolved, which incident lasted how long, who was on call); only what PagerDuty stores
differently changes, so the per-source flow tests compare reports built from the same facts:
- each page is an incident, with one alert under it holding the sender's dedup key and details;
- a major incident is an incident of type `major_incident` on the first service it impacted;
- acknowledgements and resolutions are log entries, exactly `report.ackTime`/`closeTime` after
  creation as OpsGenie reports them; tags and repeat counts have no place in PagerDuty and go;
- closing a resolved incident (PagerDuty has no closed state) and custom entries are notes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from oncall.sandbox.seed import CREATED, USERS, ZONE, full_name, instant, iso
from oncall.sandbox.week import Turn, Week
from oncall.sources.pagerduty.fake import API, WEB, State, ref

URGENT = ("P1", "P2")
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
MAJOR = {"name": "major_incident"}
ROUTINE = {"name": "incident_default"}


def pd_id(prefix: str, name: str) -> str:
    """A PagerDuty-looking id (capital letters and digits) that names what it is, for reading tests."""
    return (prefix + "".join(c for c in name.upper() if c.isalnum()))[:14]


def seed(week: Week) -> State:
    state = State()
    uid = {u["id"]: pd_id("PU", u["id"].removeprefix("u-")) for u in USERS}
    by_email = {u["name"]: uid[u["id"]] for u in USERS}
    for u in USERS:
        ident = uid[u["id"]]
        state.users[ident] = {
            "id": ident,
            "type": "user",
            "summary": full_name(u["name"]),
            "self": f"{API}/users/{ident}",
            "html_url": f"{WEB}/users/{ident}",
            "name": full_name(u["name"]),
            "email": u["name"],
            "time_zone": ZONE,
            "role": "user",
        }
    state.me = uid[USERS[0]["id"]]
    team = ref("team", "PTEAMOPS", "ops_team")
    state.priorities = [
        {
            "id": f"PPRIO{n}",
            "type": "priority",
            "summary": f"P{n}",
            "self": f"{API}/priorities/PPRIO{n}",
            "html_url": None,
            "name": f"P{n}",
            "description": "",
        }
        for n in range(1, 6)
    ]
    services: dict[str, dict[str, Any]] = {}

    def service(name: str) -> dict[str, Any]:
        if name not in services:
            ident = pd_id("PS", name)
            services[name] = {
                "id": ident,
                "type": "service",
                "summary": name,
                "self": f"{API}/services/{ident}",
                "html_url": f"{WEB}/service-directory/{ident}",
                "name": name,
                "status": "active",
                "created_at": CREATED,
                "escalation_policy": ref("escalation_policy", "PEPOPS1", "Ops escalation"),
                "teams": [team],
            }
        return ref("service", services[name]["id"], name)

    def user(email: Any) -> dict[str, Any] | None:
        ident = by_email.get(str(email))
        return ref("user", ident, state.users[ident]["name"]) if ident else None

    def agent(name: Any, fallback: dict[str, Any]) -> dict[str, Any]:
        """Who acted when it was not a person: an integration (OpsGenie's "Alert API")."""
        return ref("integration", pd_id("PI", str(name)), str(name)) if name else fallback

    def priority(name: str | None) -> dict[str, Any] | None:
        return ref("priority", f"PPRIO{name[1]}", name) if name else None

    def entry(incident: dict[str, Any], n: int, kind: str, at: str, text: str, agent: Any) -> dict[str, Any]:
        ident = f"R{incident['id'].upper().replace('-', '')}{n:02d}"[:30]
        out: dict[str, Any] = {
            "id": ident,
            "type": f"{kind}_log_entry",
            "summary": text,
            "self": f"{API}/log_entries/{ident}",
            "html_url": None,
            "created_at": at,
            "agent": agent,
            "channel": {"type": "api" if kind == "trigger" else "web_ui"},
            "service": incident["service"],
            "incident": ref("incident", incident["id"], incident["title"]),
            "teams": [team],
            "contexts": [],
        }
        if kind == "annotate":
            out["note"] = text
            out["summary"] = "Note added"
        return out

    incidents = []
    for a in week.alerts:
        report = a.get("report") or {}
        created = instant(a["createdAt"])
        closed = a["status"] == "closed"
        acked = report.get("ackTime") is not None
        resolved = iso(created + timedelta(milliseconds=report["closeTime"])) if closed else None
        acked_at = iso(created + timedelta(milliseconds=report["ackTime"])) if acked else None
        status = "resolved" if closed else ("acknowledged" if a.get("acknowledged") else "triggered")
        svc = service(a.get("source") or "Alertmanager")
        owner = user(a.get("owner"))
        number = int(a["tinyId"])
        incident = {
            "id": a["id"],
            "type": "incident",
            "summary": f"[#{number}] {a['message']}",
            "self": f"{API}/incidents/{a['id']}",
            "html_url": f"{WEB}/incidents/{a['id']}",
            "incident_number": number,
            "title": a["message"],
            "created_at": a["createdAt"],
            "updated_at": a["updatedAt"],
            "status": status,
            "incident_key": a.get("alias"),
            "service": svc,
            "assignments": [] if closed or owner is None else [{"at": a["createdAt"], "assignee": owner}],
            "assigned_via": "escalation_policy",
            "last_status_change_at": resolved or acked_at or a["createdAt"],
            "resolved_at": resolved,
            "alert_counts": {"all": 1, "triggered": 0 if closed else 1, "resolved": 1 if closed else 0},
            "is_mergeable": True,
            "incident_type": ROUTINE,
            "escalation_policy": ref("escalation_policy", "PEPOPS1", "Ops escalation"),
            "teams": [team],
            "pending_actions": [],
            "acknowledgements": [{"at": acked_at, "acknowledger": user(report.get("acknowledgedBy"))}]
            if status == "acknowledged" and acked_at and user(report.get("acknowledgedBy"))
            else [],
            "priority": priority(a.get("priority")),
            "urgency": "high" if a.get("priority") in URGENT else "low",
        }
        incidents.append(incident)
        details = {**(a.get("details") or {})}
        if a.get("description"):
            details["description"] = a["description"]
        state.alerts[a["id"]] = [
            {
                "id": f"A{a['id'].upper().replace('-', '')}"[:30],
                "type": "alert",
                "summary": a["message"],
                "self": f"{API}/alerts/A{a['id']}",
                "html_url": f"{WEB}/alerts/A{a['id']}",
                "created_at": a["createdAt"],
                "status": "resolved" if closed else "triggered",
                "alert_key": a.get("alias") or a["id"],
                "service": svc,
                "incident": ref("incident", a["id"], a["message"]),
                "suppressed": False,
                "severity": SEVERITY.get(str(a.get("priority")), "warning"),
                "integration": {
                    **ref(
                        "integration",
                        pd_id("PI", a.get("source") or "events"),
                        a.get("source") or "Events API V2",
                    ),
                    "type": "events_api_v2_inbound_integration_reference",
                },
                "body": {"type": "alert_body", "contexts": [], "details": details},
            }
        ]
        entries = [
            entry(
                incident, 0, "trigger", a["createdAt"], f"Triggered through the API via {svc['summary']}", svc
            )
        ]
        for log in week.alert_logs.get(a["id"], []):
            if log["log"].startswith("Escalated"):
                entries.append(entry(incident, len(entries), "escalate", log["createdAt"], log["log"], svc))
        if acked_at:
            by = user(report.get("acknowledgedBy")) or agent(report.get("acknowledgedBy"), svc)
            entries.append(
                entry(incident, len(entries), "acknowledge", acked_at, f"Acknowledged by {by['summary']}", by)
            )
        if resolved:
            by = user(report.get("closedBy")) or agent(report.get("closedBy"), svc)
            entries.append(
                entry(incident, len(entries), "resolve", resolved, f"Resolved by {by['summary']}", by)
            )
        state.log_entries[a["id"]] = sorted(entries, key=lambda e: e["created_at"])
        state.notes[a["id"]] = [
            {
                "id": f"PN{a['id'].upper().replace('-', '')}{n}"[:30],
                "user": user(note.get("owner")) or ref("user", "PUSYSTEM", str(note.get("owner"))),
                "channel": {"summary": "The PagerDuty website or APIs"},
                "content": note.get("note") or note.get("log") or "",
                "created_at": note["createdAt"],
            }
            for n, note in enumerate(week.alert_notes.get(a["id"], []))
        ]

    kinds = {
        "IncidentCreated": "trigger",
        "ResponderAlertAcked": "acknowledge",
        "IncidentResolved": "resolve",
        "CustomEntry": "annotate",
        "IncidentClosed": "annotate",  # PagerDuty has no closed state: the closing is a note
    }
    for inc in week.incidents:
        timeline = week.timelines.get(inc["id"], [])
        when = {e["type"]: e["eventTime"] for e in timeline}
        done: str | None = when.get("IncidentResolved")
        ack: str | None = when.get("ResponderAlertAcked")
        status = "resolved" if done else ("acknowledged" if ack else "triggered")
        owner = user(inc.get("owner"))
        svc = service((inc.get("impactedServices") or ["Major incidents"])[0])
        for other in (inc.get("impactedServices") or [])[1:]:
            service(other)
        incident = {
            "id": inc["id"],
            "type": "incident",
            "summary": f"[#{inc['tinyId']}] {inc['message']}",
            "self": f"{API}/incidents/{inc['id']}",
            "html_url": f"{WEB}/incidents/{inc['id']}",
            "incident_number": int(inc["tinyId"]),
            "title": inc["message"],
            "created_at": inc["createdAt"],
            "updated_at": inc["updatedAt"],
            "status": status,
            "incident_key": inc["id"],
            "service": svc,
            "assignments": [] if done or owner is None else [{"at": inc["createdAt"], "assignee": owner}],
            "assigned_via": "direct_assignment",
            "last_status_change_at": done or ack or inc["createdAt"],
            "resolved_at": done,
            "alert_counts": {"all": 3, "triggered": 0 if done else 3, "resolved": 3 if done else 0},
            "is_mergeable": True,
            "incident_type": MAJOR,
            "escalation_policy": ref("escalation_policy", "PEPOPS1", "Ops escalation"),
            "teams": [team],
            "pending_actions": [],
            "acknowledgements": [{"at": ack, "acknowledger": owner}]
            if status == "acknowledged" and owner
            else [],
            "priority": priority(inc.get("priority")),
            "urgency": "high",
        }
        incidents.append(incident)
        state.alerts[inc["id"]] = []
        state.log_entries[inc["id"]] = [
            entry(incident, n, kinds[e["type"]], e["eventTime"], e["description"]["content"], owner or svc)
            for n, e in enumerate(timeline)
            if e["type"] in kinds
        ]
        state.notes[inc["id"]] = [  # a note is also an annotate entry in the log, as PagerDuty keeps it
            {
                "id": f"PN{e['id'][1:]}"[:30],
                "user": e["agent"],
                "channel": {"summary": "The PagerDuty website or APIs"},
                "content": e["note"],
                "created_at": e["created_at"],
            }
            for e in state.log_entries[inc["id"]]
            if e["type"] == "annotate_log_entry"
        ]

    state.services = list(services.values())
    for sch in week.schedules:
        layers = [
            {
                "id": pd_id("PL", rot["id"]),
                "name": rot["name"],
                "start": rot["startDate"],
                "rotation_virtual_start": rot["startDate"],
                "rotation_turn_length_seconds": {"weekly": 604800, "daily": 86400, "hourly": 3600}[
                    rot["type"]
                ]
                * int(rot.get("length") or 1),
                "users": [
                    {"user": ref("user", uid[p["id"]], state.users[uid[p["id"]]]["name"])}
                    for p in rot.get("participants") or ()
                    if p.get("id") in uid
                ],
                "restrictions": [],
            }
            for rot in sch.get("rotations") or ()
        ]
        state.schedules.append(
            {
                "id": sch["id"],
                "type": "schedule",
                "summary": sch["name"],
                "self": f"{API}/schedules/{sch['id']}",
                "html_url": f"{WEB}/schedules/{sch['id']}",
                "name": sch["name"],
                "description": sch.get("description") or "",
                "time_zone": sch.get("timezone") or ZONE,
                "schedule_layers": layers,
                "users": [u["user"] for layer in layers for u in layer["users"]],
                "escalation_policies": [ref("escalation_policy", "PEPOPS1", "Ops escalation")],
                "teams": [team],
            }
        )
        state.turns[sch["id"]] = [
            Turn(t.start, t.end, {"id": uid[t.user["id"]], "name": t.user["name"]}, t.override)
            for t in week.turns.get(sch["id"], [])
        ]
    # The spec types these as text, not null: an incident not resolved, or without a key, leaves them out.
    state.set_incidents([{k: v for k, v in i.items() if v is not None or k == "priority"} for i in incidents])
    return state
