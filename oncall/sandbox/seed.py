"""A deterministic, realistic on-call week for the sandbox, ending at `anchor`.

Modelled on the team in `fixtures/real/` (MIT Open Learning): its products and real alert
names, Alertmanager titles cut at OpsGenie's 130 characters, Pingdom, Sentry and CloudWatch
alarms. The week holds hundreds of alerts of dozens of kinds with dedup counts, a flapping
kind, after-hours pages, still-open alerts, escalations, a schedule of two weekly rotations
with an override, and incidents of 47 minutes (COE-worthy), 6 minutes and one still open.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pendulum

from oncall.sandbox.server import SandboxState
from oncall.sandbox.urls import SANDBOX_WEB
from oncall.sandbox.week import Turn, Week
from oncall.sources import REGISTRY

ZONE = "America/New_York"
DEFAULT_ANCHOR = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tue 10:00 New York
ROTATION_START = pendulum.datetime(2026, 9, 1, 10, 0, tz=ZONE)
SCHEDULE = {"id": "c1b2e3f4-sch-primary", "name": "Primary On Call Schedule"}
TEAM = {"type": "team", "id": "team-ops-0001"}

USERS = [
    {"id": "u-alice", "name": "alice.ng@example.edu"},
    {"id": "u-bruno", "name": "bruno.diaz@example.edu"},
    {"id": "u-chen", "name": "chen.li@example.edu"},
    {"id": "u-dana", "name": "dana.okafor@example.edu"},
    {"id": "u-emil", "name": "emil.varga@example.edu"},
]
PRIMARY = [USERS[0], USERS[1], USERS[2], USERS[3]]
SECONDARY = [USERS[4], USERS[3], USERS[0], USERS[1]]


@dataclass(frozen=True)
class Kind:
    """One alert kind: how its titles look and how often it pages."""

    title: str  # {host}, {ip}, {n}, {env} are filled per alert
    priority: str
    per_day: float
    source: str
    integration: str
    flapping: bool = False
    env: tuple[str, ...] = ("production",)


def _prom(name: str, labels: str, priority: str, per_day: float, env: tuple[str, ...], **kw: Any) -> Kind:
    return Kind(
        f"[Prometheus]: [FIRING:{{n}}] {name} {{env}} ({labels})",
        priority,
        per_day,
        "Grafana",
        "Alertmanager",
        env=env,
        **kw,
    )


KINDS: list[Kind] = [
    _prom(
        "DiskUsageWarning",
        "xqwatcher filesystem /dev/root ext4 {host} integrations/linux_host warning",
        "P3",
        2.0,
        ("mitx-production", "mitxonline-production"),
    ),
    _prom(
        "DiskUsageWarning",
        "edxapp filesystem /dev/root ext4 {host} integrations/linux_host warning",
        "P3",
        1.5,
        ("mitx-production", "xpro-production"),
    ),
    _prom(
        "DiskUsageWarning",
        "reddit filesystem /dev/nvme0n1p1 ext4 {host} integrations/linux_host warning",
        "P3",
        0.6,
        ("production-apps",),
    ),
    _prom(
        "DiskUsageCritical",
        "edxapp filesystem /dev/root ext4 {host} integrations/linux_host critical",
        "P1",
        0.3,
        ("mitx-production",),
    ),
    _prom(
        "MemoryUsageWarning",
        "memory {host} integrations/linux_host warning",
        "P3",
        3.0,
        ("operations-qa", "operations-production"),
    ),
    _prom(
        "CPUUsageWarning",
        "edxapp {host} integrations/linux_host warning",
        "P3",
        0.8,
        ("mitx-production", "mitxonline-production", "xpro-production"),
        flapping=True,
    ),
    _prom("InvalidAccessKeyNonProd", "odl-open-discussions warning", "P3", 0.8, ("qa",)),
    _prom("InvalidAccessKeyProduction", "odl-video-service critical", "P1", 0.3, ("apps-production",)),
    _prom("AlternateInvalidAccessKeyProduction", "bootcamp-ecommerce critical", "P1", 0.2, ("production",)),
    _prom("VaultLeaderLastContact", "vault {host} warning", "P2", 0.5, ("operations-production",)),
    _prom("VaultAbsent", "vault critical", "P2", 0.15, ("operations-qa",)),
    _prom("KeycloakInternalError", "keycloak critical", "P2", 0.4, ("production",)),
    _prom("KeycloakSAMLAssertionDecryptError", "keycloak warning", "P3", 0.5, ("production",)),
    _prom("RedisMemoryIssuesProduction", "edxapp critical", "P2", 0.4, ("mitx-production",)),
    _prom("RedisMemoryIssuesNonProd", "edxapp warning", "P4", 0.9, ("mitx-qa",)),
    _prom(
        "ForumTimeoutProduction", "edxapp warning", "P3", 1.2, ("mitxonline-production", "mitx-production")
    ),
    _prom("CredentialIssueProduction", "edxapp critical", "P2", 0.3, ("xpro-production",)),
    _prom("NoSAMLProviderDataProduction", "edxapp warning", "P3", 0.4, ("mitx-production",)),
    _prom("edxapp_VaultAuthFailure", "edxapp critical", "P2", 0.2, ("mitxonline-production",)),
    _prom("BootcampsSAMLIntegrationErrorProd", "bootcamp-ecommerce warning", "P3", 0.3, ("production",)),
    _prom("OCWStudioContentSyncInvalidPasswordProd", "ocw-studio warning", "P3", 0.3, ("production",)),
    _prom("ConcourseProductionErrorRateTesting", "concourse warning true", "P5", 1.0, ("production",)),
    Kind("[Pingdom] Open Discussions production home page has an alert", "P2", 0.5, "Pingdom", "Pingdom"),
    Kind("[Pingdom] MITx Online Production is down", "P1", 0.2, "Pingdom", "Pingdom"),
    Kind("[Pingdom] xPro LMS Production is down", "P2", 0.15, "Pingdom", "Pingdom"),
    Kind(
        "Task handler raised error: \"OperationalError(1045, \"Access denied for user 'v-edxa-{token}'@'{ip}' (using password: YES)",
        "P3",
        0.8,
        "Sentry",
        "Sentry",
    ),
    Kind("ApiException hubspot_xpro.tasks.sync_contact_with_hubspot", "P4", 1.0, "Sentry", "Sentry"),
    Kind("Cybersource credentials potentially out of date", "P3", 0.2, "Sentry", "Sentry"),
    Kind("simple-rds-mitxonline-production-app-db-CPUUtilization", "P2", 0.6, "CloudWatch", "AmazonSns"),
    Kind("simple-rds-xpro-db-applications-production-FreeStorageSpace", "P1", 0.2, "CloudWatch", "AmazonSns"),
    Kind("simple-rds-edxapp-db-mitx-production-DiskQueueDepth", "P3", 0.7, "CloudWatch", "AmazonSns"),
    Kind(
        "PodCrashLoopingWarning learn-ai production pod learn-ai-api-{pod}",
        "P3",
        0.6,
        "Grafana",
        "Alertmanager",
    ),
]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


CREATED = "2026-01-05T09:00:00.000Z"  # when the seeded accounts, services and schedules were made


def instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def full_name(email: str) -> str:
    return " ".join(p.capitalize() for p in email.split("@")[0].split("."))


def _render(kind: Kind, rng: random.Random) -> str:
    title = kind.title.format(
        n=rng.choice((1, 1, 1, 2, 3)),
        env=rng.choice(kind.env),
        host=f"ip-10-{rng.randint(1, 13)}-{rng.randint(0, 3)}-{rng.randint(10, 250)}",
        ip=f"10.{rng.randint(1, 13)}.{rng.randint(0, 3)}.{rng.randint(10, 250)}",
        # Vault-style usernames always hold a digit; pod suffixes are k8s replica-set hashes.
        token="".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
        + str(rng.randint(0, 9)),
        pod=f"{rng.getrandbits(36):09x}-{rng.randint(0, 9)}{''.join(rng.choice('bcdfghjklmnpqrstvwxz2456789') for _ in range(4))}",
    )
    return title[:130]


def _turns(anchor: datetime) -> list[Turn]:
    turns: list[Turn] = []
    end = pendulum.instance(anchor).add(weeks=3)
    k = 0
    while (start := ROTATION_START.add(weeks=k)) < end:
        stop = ROTATION_START.add(weeks=k + 1)
        for people in (PRIMARY, SECONDARY):
            turns.append(Turn(iso(start), iso(stop), people[k % len(people)]))
        k += 1
    # Thursday evening to Friday morning of the seeded week, Emil covers for everyone.
    thursday = pendulum.instance(anchor).in_timezone(ZONE).subtract(days=5).set(hour=18, minute=0, second=0)
    turns.append(Turn(iso(thursday), iso(thursday.add(hours=15)), USERS[4], override=True))
    return turns


def _on_call(turns: list[Turn], at: datetime) -> list[dict[str, str]]:
    at_iso = iso(at)
    live = [t for t in turns if t.start <= at_iso < t.end]
    return [t.user for t in ([t for t in live if t.override] or live)]


def seed_week(anchor: datetime, seed: int = 7) -> Week:
    """The week ending at `anchor`: every source's fake serves these facts (its `FakeSpec.seed`)."""
    rng = random.Random(seed)
    state = Week()
    turns = _turns(anchor)
    start = anchor - timedelta(days=7)
    alerts: list[dict[str, Any]] = []
    seq = 0

    def add(
        kind: Kind,
        created: datetime,
        *,
        close_after_min: float | None,
        ack_after_min: float | None,
        escalate: bool = False,
        tags: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        alert_id = f"{rng.getrandbits(64):016x}-{seq:04d}"
        people = _on_call(turns, created) or [USERS[0]]
        acker = people[-1] if escalate and len(people) > 1 else people[0]
        count = 1 + (int(rng.expovariate(0.6)) if not kind.flapping else 0)
        report: dict[str, Any] = {}
        status, acked = "open", False
        if ack_after_min is not None and created + timedelta(minutes=ack_after_min) < anchor:
            report["ackTime"] = int(ack_after_min * 60_000)
            report["acknowledgedBy"] = acker["name"]
            acked = True
        if close_after_min is not None and created + timedelta(minutes=close_after_min) < anchor:
            report["closeTime"] = int(close_after_min * 60_000)
            report["closedBy"] = acker["name"] if acked else "Alert API"
            status = "closed"
        last = created + timedelta(minutes=rng.uniform(0, 30) * (count - 1))
        updated = created + timedelta(minutes=close_after_min or ack_after_min or 0)
        message = _render(kind, rng)
        alert = {
            "id": alert_id,
            "tinyId": str(1000 + seq),
            "alias": f"{kind.source.lower()}-{zlib.crc32(message.encode()):08x}",
            "message": message,
            "status": status,
            "acknowledged": acked,
            "isSeen": acked,
            "tags": sorted({kind.source.lower(), kind.priority.lower(), *tags}),
            "snoozed": False,
            "count": count,
            "lastOccurredAt": iso(min(last, anchor)),
            "createdAt": iso(created),
            "updatedAt": iso(min(updated, anchor)),
            "source": kind.source,
            "owner": acker["name"] if acked else "",
            "priority": kind.priority,
            "responders": [TEAM],
            "integration": {
                "id": f"int-{kind.integration.lower()}",
                "name": kind.integration,
                "type": kind.integration,
            },
            "report": report,
            "actions": [],
            "entity": kind.source,
            "description": f"Fired by {kind.source}. See the runbook for {message[:60]}",
            "details": {"source": kind.source, "priority": kind.priority},
        }
        alerts.append(alert)
        logs = [
            {
                "log": f"Alert created via {kind.integration}",
                "type": "system",
                "owner": "System",
                "createdAt": iso(created),
            }
        ]
        if acked:
            logs.append(
                {
                    "log": f"Alert acknowledged via web by {acker['name']}",
                    "type": "alertAck",
                    "owner": acker["name"],
                    "createdAt": iso(created + timedelta(minutes=ack_after_min or 0)),
                }
            )
        if escalate:
            logs.insert(
                1,
                {
                    "log": "Escalated to next on-call (Ops_Escalation) after 5m unacknowledged",
                    "type": "system",
                    "owner": "System",
                    "createdAt": iso(created + timedelta(minutes=5)),
                },
            )
        if status == "closed":
            logs.append(
                {
                    "log": f"Alert closed by {report['closedBy']}",
                    "type": "alertClose",
                    "owner": report["closedBy"],
                    "createdAt": iso(created + timedelta(minutes=close_after_min or 0)),
                }
            )
        for i, entry in enumerate(logs):
            entry["offset"] = f"{entry['createdAt']}_{i}"
        state.alert_logs[alert_id] = logs
        return alert

    for kind in KINDS:
        n = max(1, round(kind.per_day * 7 * rng.uniform(0.6, 1.4)))
        for _ in range(n):
            created = start + timedelta(seconds=rng.uniform(0, 7 * 86400))
            if kind.flapping:  # bursts of short-lived alerts that resolve by themselves
                for j in range(rng.randint(4, 9)):
                    add(
                        kind,
                        created + timedelta(minutes=9 * j),
                        close_after_min=rng.uniform(1, 4),
                        ack_after_min=None,
                    )
                continue
            escalate = kind.priority in ("P1", "P2") and rng.random() < 0.3
            ack = rng.uniform(6, 25) if escalate else rng.uniform(0.5, 4.5)
            close: float | None = ack + rng.uniform(3, 180)
            if anchor - created < timedelta(hours=14) and rng.random() < 0.5:
                close = None  # still open at hand-off
            add(
                kind,
                created,
                close_after_min=close,
                ack_after_min=ack if rng.random() < 0.85 else None,
                escalate=escalate,
            )
    # Open since before the week: a known-noisy alert nobody closed.
    add(KINDS[4], start - timedelta(days=2, hours=3), close_after_min=None, ack_after_min=12.0)

    state.incidents, state.timelines = _incidents(anchor, add, turns)
    state.set_alerts(alerts)
    state.schedules = [
        {
            **SCHEDULE,
            "description": "Ops primary and secondary",
            "timezone": ZONE,
            "enabled": True,
            "ownerTeam": {"id": TEAM["id"], "name": "ops_team"},
            "rotations": [
                {
                    "id": f"rot-{name.lower()}",
                    "name": name,
                    "startDate": iso(ROTATION_START),
                    "type": "weekly",
                    "length": 1,
                    "participants": [{"type": "user", "id": u["id"], "username": u["name"]} for u in people],
                }
                for name, people in (("Primary", PRIMARY), ("Secondary", SECONDARY))
            ],
        }
    ]
    state.turns = {SCHEDULE["id"]: turns}
    return state


def _incidents(
    anchor: datetime, add: Any, turns: list[Turn]
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    local = pendulum.instance(anchor).in_timezone(ZONE)
    specs = [
        (
            "inc-7f3a-0001",
            "101",
            "xPro unavailable: RDS storage exhausted on the xpro applications db",
            "P1",
            local.subtract(days=3).set(hour=14, minute=5),
            47,
            ["svc-xpro", "svc-xpro-api"],
            KINDS[29],
        ),
        (
            "inc-7f3a-0002",
            "102",
            "Keycloak SSO errors for Apps realm",
            "P2",
            local.subtract(days=5).set(hour=23, minute=40),
            6,
            ["svc-keycloak"],
            KINDS[11],
        ),
        (
            "inc-7f3a-0003",
            "103",
            "Intermittent forum timeouts on mitx-production",
            "P3",
            local.subtract(hours=6),
            None,
            ["svc-forum"],
            KINDS[15],
        ),
    ]
    incidents, timelines = [], {}
    for inc_id, tiny, message, prio, started, minutes, services, kind in specs:
        created = datetime.fromtimestamp(started.timestamp(), UTC)
        owner = (_on_call(turns, created) or [USERS[0]])[0]
        for j in range(3):
            add(
                kind,
                created - timedelta(minutes=2 - j),
                close_after_min=(minutes or 0) + 2 if minutes else None,
                ack_after_min=1.5 + j,
                tags=(f"incident-{tiny}",),
            )
        status = "closed" if minutes else "open"
        resolved = created + timedelta(minutes=minutes) if minutes else None
        incidents.append(
            {
                "id": inc_id,
                "tinyId": tiny,
                "message": message,
                "status": status,
                "isSeen": True,
                "tags": ["outage" if prio == "P1" else "degradation"],
                "createdAt": iso(created),
                "updatedAt": iso(resolved + timedelta(minutes=3) if resolved else created),
                "source": "Opsgenie",
                "owner": owner["name"],
                "priority": prio,
                "ownerTeam": TEAM["id"],
                "responders": [TEAM, {"type": "user", "id": owner["id"]}],
                "extraProperties": {"region": "us-east-1"},
                "impactedServices": services,
                "links": {
                    "web": f"{SANDBOX_WEB}/opsgenie/incident/detail/{inc_id}",
                    "api": f"{SANDBOX_WEB}/opsgenie/v1/incidents/{inc_id}",
                },
            }
        )
        entries = [
            ("incident", "IncidentCreated", created, f"Incident created by {owner['name']}: {message}")
        ]
        entries.append(
            (
                "incident",
                "ResponderAlertAcked",
                created + timedelta(minutes=2),
                f"{owner['name']} acknowledged the responder alert",
            )
        )
        entries.append(
            (
                "custom",
                "CustomEntry",
                created + timedelta(minutes=4),
                "Investigating; first mitigation under way",
            )
        )
        if resolved:
            entries.append(("incident", "IncidentResolved", resolved, "Incident resolved"))
            entries.append(("incident", "IncidentClosed", resolved + timedelta(minutes=3), "Incident closed"))
        timelines[inc_id] = [
            {
                "id": f"{inc_id}-e{i}",
                "group": g,
                "type": t,
                "eventTime": iso(at),
                "hidden": False,
                "actor": {"name": owner["name"], "type": "user"},
                "description": {"type": "text", "content": text},
                "lastEdit": {"editTime": iso(at), "actor": {"name": owner["name"], "type": "user"}},
            }
            for i, (g, t, at, text) in enumerate(entries)
        ]
    return incidents, timelines


def last_handoff(now: datetime) -> datetime:
    """The most recent Tuesday 10:00 New York at or before `now`: the sandbox's default anchor for live use."""
    local = pendulum.instance(now).in_timezone(ZONE)
    candidate = local.start_of("week").add(days=1).set(hour=10)
    if candidate > local:
        candidate = candidate.subtract(weeks=1)
    return datetime.fromtimestamp(candidate.timestamp(), UTC)


RUNBOOK = Path(__file__).with_name("data") / "mitodl-oncall-runbook.md"


@lru_cache(maxsize=1)
def sandbox_service_account() -> dict[str, str]:
    """A service-account key file for the sandbox: a real RSA key (google-auth signs with it), made once."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "type": "service_account",
        "project_id": "sandbox-project",
        "private_key_id": "sandbox-key-1",
        "private_key": pem.decode(),
        "client_email": "oncall-flows@sandbox-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def seed_google(state: SandboxState) -> None:
    """The default COE template as a Google Doc, a COE folder on a shared drive, and the tracking sheet."""
    from oncall.coe import TEMPLATE
    from oncall.tracker import TRACKER_HEADER

    state.service_account = sandbox_service_account()
    google = state.google
    google.client_email = state.service_account["client_email"]
    google.add_folder("folder-templates", "Templates")
    google.add_folder(state.coe_folder, "COEs")
    google.add_folder("folder-my-drive", "My Drive folder", shared_drive=None)
    google.add_doc(state.coe_template, "COE template", TEMPLATE.read_text(encoding="utf-8"))
    state.sheets[state.coe_sheet] = {"COE tracker": [list(TRACKER_HEADER)]}


def seed_state(anchor: datetime | None = None, seed: int = 7) -> SandboxState:
    """The week of alerts, the real MIT Open Learning runbook text in the fake GitHub's sandbox
    repository (`example-org/ops-runbook`, a name no one can take for theirs), the COE template in Drive."""
    state = SandboxState()
    seed_sources(state, seed_week(anchor or DEFAULT_ANCHOR, seed))
    repo = state.github.repo(state.runbook_repo)
    repo.files[f"{state.runbook_path}@main"] = RUNBOOK.read_text(encoding="utf-8")
    seed_google(state)
    return state


def synthetic_alerts(n: int, start: datetime, end: datetime, seed: int = 1) -> list[dict[str, Any]]:
    """`n` plain alerts spread evenly over [start, end): the load for paging tests and benchmarks."""
    rng = random.Random(seed)
    step = (end - start) / n
    out = []
    for i in range(n):
        created = start + step * i
        kind = KINDS[i % len(KINDS)]
        out.append(
            {
                "id": f"syn-{i:07d}",
                "tinyId": str(100000 + i),
                "alias": f"syn-{i}",
                "message": _render(kind, rng),
                "status": "closed",
                "acknowledged": True,
                "isSeen": True,
                "tags": [kind.source.lower()],
                "snoozed": False,
                "count": 1 + i % 3,
                "lastOccurredAt": iso(created),
                "createdAt": iso(created),
                "updatedAt": iso(created),
                "source": kind.source,
                "owner": USERS[i % 5]["name"],
                "priority": kind.priority,
                "responders": [TEAM],
                "integration": {"id": "int-am", "name": "Alertmanager", "type": "Alertmanager"},
                "report": {"ackTime": 60_000, "closeTime": 600_000, "acknowledgedBy": USERS[i % 5]["name"]},
            }
        )
    return out


def synthetic_state(n: int, start: datetime, end: datetime) -> SandboxState:
    """`n` synthetic alerts served by every alert-source fake: the paging and load scenario."""
    state = SandboxState()
    week = Week()
    week.set_alerts(synthetic_alerts(n, start, end))
    seed_sources(state, week)
    return state


def seed_sources(state: SandboxState, week: Week) -> None:
    """Every registered source's fake serves the same facts, each in its vendor's shapes."""
    for name, spec in REGISTRY.items():
        state.sources[name] = spec.fake.seed(week)
