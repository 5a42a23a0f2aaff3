"""Alert-quality findings: what a window's alerts and incidents say about operational safety.

Pure: alerts, incidents, thresholds and `now` in, ranked `Finding`s out (oncall/findings.py),
which ops-review files and the hand-off shows. Alerts are grouped into kinds by
`oncall.kinds.alert_kind`, as everywhere else, in one pass, and nothing compares alerts
pairwise: the scale scenario's 50,000 alerts over 8 weeks took about half a second of CPU on
the 2 shared cores at load 11, most of it reading titles into kinds.

A "page" is one alert: a source folds repeats into an alert's `count` without paging again, so
ranking counts alerts; only noise, which is about how often a condition fires, reads `count`.
Subjects and example titles are raw alert text: escaping happens where they land.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING

from oncall.clock import BusinessHours, Interruption, SleepHours, interruption, zone
from oncall.coe import RELATED_LEAD, related_alerts
from oncall.findings import Example, Finding, FindingKind
from oncall.handoff import is_escalated
from oncall.kinds import alert_kind
from oncall.models import Alert, Frozen, Incident, Priority, TimeWindow
from oncall.runbook import Runbook, RunbookEntry

if TYPE_CHECKING:
    from oncall.gaps import KindCoverage
    from oncall.settings import Settings

_WHEN = attrgetter("created_at", "id")  # oldest first, equal instants by id
EXAMPLES = 5  # examples per finding: enough to click through, few enough to read
ALL_ROTATIONS = "all rotations"  # the sleep-load subject when the caller names no rotation

# Who closes an alert when no person does: OpsGenie's API user (Alertmanager's resolve arrives
# through it), and the names sources give their automation. An integration's own name is one too.
_SYSTEM_CLOSERS = frozenset({"alert api", "api", "system", "integration", "automation", "auto-resolve"})


class Thresholds(Frozen):
    """The numbers a finding is decided by; each one is a setting (oncall/settings.py) with the
    same default. The team's night and working hours arrive parsed (`BusinessHours`,
    `SleepHours`) and the per-person opt-in as its own flag, as `findings`' parameters: they are
    not numbers a finding is compared with, and each keeps its one home in the settings."""

    flap_min_cycles: int = 5
    flap_reopen_minutes: int = 30
    noise_per_day: float = 10.0
    unactionable_minutes: int = 5
    unactionable_min_alerts: int = 3
    repeat_incident_min: int = 2
    escalation_minutes: int = 5

    @classmethod
    def from_settings(cls, s: Settings) -> Thresholds:
        return cls(**{name: getattr(s, name) for name in cls.model_fields})


def _example(alert: Alert) -> Example:
    # The alert's fields are validated already; a finding over 50,000 alerts builds thousands.
    return Example.model_construct(
        id=alert.id, title=alert.message, at=alert.created_at, url=alert.url, priority=alert.priority
    )


def _examples(oldest_first: list[Alert]) -> tuple[Example, ...]:
    """The most recent few, newest first, of alerts in `_in_order`'s order."""
    return tuple(_example(a) for a in reversed(oldest_first[-EXAMPLES:]))


def _in_order(alerts: Iterable[Alert]) -> list[Alert]:
    """Oldest first, equal instants by id: every list below keeps this order, so examples and
    worst nights are the same whatever order the source listed the alerts in."""
    return sorted(alerts, key=_WHEN)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _acknowledged(alert: Alert) -> bool:
    return alert.acknowledged or alert.ack_after is not None or bool(alert.acknowledged_by)


def _closed_by_person(alert: Alert) -> bool:
    """Whether a person closed the alert, rather than its integration or the source's automation."""
    closer = (alert.closed_by or "").strip().lower()
    if not closer or closer in _SYSTEM_CLOSERS:
        return False
    return closer not in {(alert.integration or "").strip().lower(), (alert.source or "").strip().lower()}


def findings(
    alerts: Sequence[Alert],
    incidents: Sequence[Incident] | None,
    *,
    window: TimeWindow,
    thresholds: Thresholds,
    tz: str,
    business: BusinessHours,
    sleep: SleepHours,
    now: datetime,
    rotation: str | None = None,
    per_person: bool = False,
) -> list[Finding]:
    """Every finding over the alerts created in `window`, most pages first, then by kind and
    subject, so the same input always gives the same list. `incidents=None` says the source has
    no incidents at all (then no P1 can lack one); `[]` says it has them and none was opened."""
    start, end = window.start, window.end
    in_window = _in_order(a for a in alerts if start <= a.created_at < end)
    by_kind: dict[str, list[Alert]] = defaultdict(list)
    for alert in in_window:
        by_kind[alert_kind(alert.message)].append(alert)
    out: list[Finding] = []
    total = len(in_window)
    days = window.length.total_seconds() / 86400
    for kind, group in by_kind.items():
        out += _flapping(kind, group, thresholds)
        out += _noise(kind, group, thresholds, days, total)
        out += _unactionable(kind, group, thresholds)
        out += _escalation(kind, group, thresholds, now)
    out += _sleep_load(in_window, tz, business, sleep, rotation or ALL_ROTATIONS, per_person)
    if incidents is not None:
        out += _p1_without_incident(by_kind, alerts, incidents)
        out += _repeat_incidents(incidents, window, thresholds)
    return ranked(out)


def ranked(found: Iterable[Finding]) -> list[Finding]:
    """Most pages first, then kind and subject: the order the per-run filing cap reads."""
    return sorted(found, key=lambda f: (-f.pages, f.kind.value, f.subject))


def _flapping(kind: str, group: list[Alert], t: Thresholds) -> list[Finding]:
    """Cycles are the kind's alerts that opened and closed in the window; a reopen is an alert
    created within `flap_reopen_minutes` after an earlier one of its kind closed. `group` is
    oldest first; the closes not yet passed wait in a heap, so each alert is looked at once."""
    cycles = 0
    pending: list[datetime] = []
    last_close: datetime | None = None
    reopen = timedelta(minutes=t.flap_reopen_minutes)
    reopens = 0
    quickest: timedelta | None = None
    for alert in group:
        while pending and pending[0] <= alert.created_at:
            last_close = heapq.heappop(pending)  # popped in time order: the latest close so far
        if last_close is not None and alert.created_at - last_close <= reopen:
            reopens += 1
            gap = alert.created_at - last_close
            quickest = gap if quickest is None or gap < quickest else quickest
        if alert.status == "closed":
            cycles += 1
            if alert.close_after is not None:
                heapq.heappush(pending, alert.created_at + alert.close_after)
    if cycles < t.flap_min_cycles and not reopens:
        return []
    evidence: dict[str, int | float | str] = {"cycles": cycles, "reopens": reopens, "alerts": len(group)}
    summary = f"opened and closed {_plural(cycles, 'time')}"
    if quickest is not None:
        minutes = round(quickest.total_seconds() / 60, 1)
        evidence["quickest_reopen_minutes"] = minutes
        summary += f", reopened {_plural(reopens, 'time')} (quickest {minutes:g} min after closing)"
    return [
        Finding(
            kind=FindingKind.FLAPPING,
            subject=kind,
            summary=summary,
            pages=len(group),
            evidence=evidence,
            examples=_examples(group),
        )
    ]


def _noise(kind: str, group: list[Alert], t: Thresholds, days: float, total: int) -> list[Finding]:
    occurrences = sum(a.count for a in group)
    per_day = occurrences / days
    if per_day <= t.noise_per_day:
        return []
    share = round(100 * len(group) / total, 1)
    return [
        Finding(
            kind=FindingKind.NOISE,
            subject=kind,
            summary=f"{per_day:.1f} a day ({share:g}% of all pages)",
            pages=len(group),
            evidence={
                "occurrences": occurrences,
                "per_day": round(per_day, 2),
                "alerts": len(group),
                "share_of_pages_pct": share,
            },
            examples=_examples(group),
        )
    ]


def _unactionable(kind: str, group: list[Alert], t: Thresholds) -> list[Finding]:
    """Closed alerts nobody acknowledged, split by the fix they need.

    Alerts carry no notes (a note is a timeline line, `TimelineEntry`, which only coe-prep
    reads, alert by alert), so here "no acknowledgement" is the whole signal.

    - Resolved by itself: the integration or the source's automation closed it (no closer, the
      API user, the integration's name), within `unactionable_minutes` or at a time the source
      does not give. The condition cleared before anyone could act: tune the rule (a longer
      `for:`, a higher threshold) or stop it paging.
    - Nobody acked: a person closed it without acknowledging it, or it paged past
      `unactionable_minutes` until the system cleared it. A person was paged and the page went
      unattended, or was dismissed without being worked: fix who it pages and at what priority,
      or its runbook. A person closing an alert a minute after it opened did act, so it is here.
    """
    quick = timedelta(minutes=t.unactionable_minutes)
    itself: list[Alert] = []
    unacked: list[Alert] = []
    for alert in group:
        if alert.is_open or _acknowledged(alert):
            continue
        by_system = not _closed_by_person(alert)
        if by_system and (alert.close_after is None or alert.close_after <= quick):
            itself.append(alert)
        else:
            unacked.append(alert)
    out: list[Finding] = []
    if len(itself) >= t.unactionable_min_alerts:
        out.append(
            Finding(
                kind=FindingKind.RESOLVED_ITSELF,
                subject=kind,
                summary=f"{_plural(len(itself), 'page')} closed by the system within "
                f"{t.unactionable_minutes} min, nobody acting",
                pages=len(itself),
                evidence={"alerts": len(itself), "of_kind": len(group), "minutes": t.unactionable_minutes},
                examples=_examples(itself),
            )
        )
    if len(unacked) >= t.unactionable_min_alerts:
        by_person = sum(1 for a in unacked if _closed_by_person(a))
        out.append(
            Finding(
                kind=FindingKind.NOBODY_ACKED,
                subject=kind,
                summary=f"{_plural(len(unacked), 'page')} closed without anyone acknowledging",
                pages=len(unacked),
                evidence={
                    "alerts": len(unacked),
                    "of_kind": len(group),
                    "closed_by_a_person": by_person,
                    "cleared_by_the_system": len(unacked) - by_person,
                },
                examples=_examples(unacked),
            )
        )
    return out


def _escalation(kind: str, group: list[Alert], t: Thresholds, now: datetime) -> list[Finding]:
    after = timedelta(minutes=t.escalation_minutes)
    missed = [a for a in group if a.priority in (Priority.P1, Priority.P2) and is_escalated(a, after, now)]
    if not missed:
        return []
    never = sum(1 for a in missed if a.ack_after is None)
    return [
        Finding(
            kind=FindingKind.ESCALATION_MISS,
            subject=kind,
            summary=f"{_plural(len(missed), 'P1/P2 page')} not acknowledged within {t.escalation_minutes} min",
            pages=len(missed),
            evidence={"alerts": len(missed), "never_acknowledged": never, "minutes": t.escalation_minutes},
            examples=_examples(missed),
        )
    ]


def _sleep_load(
    alerts: list[Alert],
    tz: str,
    business: BusinessHours,
    sleep: SleepHours,
    subject: str,
    per_person: bool,
) -> list[Finding]:
    """The rotation's interruptions by part of the day, and its worst night. Per-person counts
    (who acknowledged, else the owner) only when the team opted in: they are about people.

    `oncall.clock` decides the part of the day and the night, asked once per local weekday and
    minute (all a part depends on) and once per local date and side of the night's end (all a
    night depends on): looking the zone up costs 0.1 ms a call, 10 s for 50,000 alerts."""
    where = zone(tz)
    parts_at: dict[int, Interruption] = {}
    nights_at: dict[tuple[date, bool], date] = {}
    parts = {"business": 0, "off": 0, "sleep": 0}
    nights: Counter[date] = Counter()
    asleep: list[Alert] = []
    people: Counter[str] = Counter()
    people_asleep: Counter[str] = Counter()
    end_minute = sleep.end_minute
    for alert in alerts:
        t = alert.created_at.astimezone(where)
        minute = t.hour * 60 + t.minute
        at = t.weekday() * 1440 + minute
        part = parts_at.get(at)
        if part is None:
            part = parts_at[at] = interruption(alert.created_at, tz, business, sleep)
        parts[part] += 1
        if per_person:
            people[alert.acknowledged_by or alert.owner or "nobody"] += 1
        if part == "sleep":
            asleep.append(alert)
            side = (t.date(), minute < end_minute)
            night = nights_at.get(side)
            if night is None:
                night = nights_at[side] = sleep.night_of(alert.created_at, tz)
            nights[night] += 1
            if per_person:
                people_asleep[alert.acknowledged_by or alert.owner or "nobody"] += 1
    if not asleep:
        return []
    night, worst = max(nights.items(), key=lambda kv: (kv[1], kv[0]))  # a tie: the latest night
    evidence: dict[str, int | float | str] = {
        "business": parts["business"],
        "off": parts["off"],
        "sleep": parts["sleep"],
        "worst_night": night.isoformat(),
        "worst_night_pages": worst,
    }
    if per_person:
        for who in sorted(people):
            evidence[f"pages: {who}"] = people[who]
            evidence[f"sleep pages: {who}"] = people_asleep[who]
    return [
        Finding(
            kind=FindingKind.SLEEP_LOAD,
            subject=subject,
            summary=f"{_plural(parts['sleep'], 'page')} in sleep hours, {parts['off']} off hours, "
            f"{parts['business']} in business hours; worst night {night.isoformat()} ({worst})",
            pages=parts["sleep"],
            evidence=evidence,
            examples=_examples(asleep),
        )
    ]


def _p1_without_incident(
    by_kind: dict[str, list[Alert]], alerts: Sequence[Alert], incidents: Sequence[Incident]
) -> list[Finding]:
    """P1 alerts no incident claims, by `oncall.coe.related_alerts` (the one link between them).
    It is asked about the P1s and the alerts tagged with an incident only: a P1 is related to an
    incident exactly when it is among those, and this keeps it linear in the alerts."""
    p1 = {kind: [a for a in group if a.priority is Priority.P1] for kind, group in by_kind.items()}
    if not any(p1.values()):
        return []
    marks = {m for i in incidents for m in (f"incident-{i.tiny_id}", f"incident-{i.id}", i.id)}
    candidates = sorted(
        (a for a in alerts if a.priority is Priority.P1 or not marks.isdisjoint(a.tags)),
        key=lambda a: a.created_at,
    )
    times = [a.created_at for a in candidates]
    claimed: set[str] = set()
    for inc in incidents:
        # Only the candidates in the span `related_alerts` reads (its lead before the start, to the
        # end), so it decides alone, without a pass over all.
        end = max(inc.resolved_at or inc.updated_at or inc.created_at, inc.created_at)
        around = candidates[bisect_left(times, inc.created_at - RELATED_LEAD) : bisect_right(times, end)]
        claimed.update(a.id for a in related_alerts(inc, around))
    unclaimed = {kind: [a for a in group if a.id not in claimed] for kind, group in p1.items()}
    return [
        Finding(
            kind=FindingKind.P1_NO_INCIDENT,
            subject=kind,
            summary=f"{_plural(len(group), 'P1 page')} with no incident",
            pages=len(group),
            evidence={"alerts": len(group)},
            examples=_examples(group),
        )
        for kind, group in unclaimed.items()
        if group
    ]


def _incident_example(incident: Incident) -> Example:
    return Example(
        id=incident.id,
        title=incident.message,
        at=incident.created_at,
        url=incident.url,
        priority=incident.priority,
    )


def _repeat_incidents(incidents: Sequence[Incident], window: TimeWindow, t: Thresholds) -> list[Finding]:
    """Incidents opened in the window, by impacted service (the kind of its message when it names
    none); an incident naming two services counts for each."""
    by_service: dict[str, list[Incident]] = defaultdict(list)
    for inc in incidents:
        if window.contains(inc.created_at):
            for service in dict.fromkeys(inc.impacted_services or (alert_kind(inc.message),)):
                by_service[service].append(inc)
    out: list[Finding] = []
    for service, group in by_service.items():
        if len(group) < t.repeat_incident_min:
            continue
        newest = sorted(group, key=lambda i: (i.created_at, i.id), reverse=True)[:EXAMPLES]
        out.append(
            Finding(
                kind=FindingKind.REPEAT_INCIDENTS,
                subject=service,
                summary=f"{_plural(len(group), 'incident')} in the window",
                pages=len(group),
                evidence={"incidents": len(group)},
                examples=tuple(_incident_example(i) for i in newest),
            )
        )
    return out


_QUALITY_FLAGS = ("no Mitigation", "stub")  # of `RunbookEntry.flags`: what leaves a paged person stuck


def _entry_subject(entry: RunbookEntry) -> str:
    return f"{entry.product}: {entry.key}" if entry.product else entry.key


def runbook_findings(runbook: Runbook, coverage: Iterable[KindCoverage] = ()) -> list[Finding]:
    """Runbook quality, listed beside the alert findings and filed by runbook-gaps (the kind is not
    fileable). Entries flagged with no Mitigation or as a stub (the runbook's own reading of each
    entry), with the pages of the kinds they cover; and the kinds whose runbook link is broken,
    from runbook-gaps' coverage. Ranked as `findings` ranks."""
    cover = list(coverage)
    paged: dict[tuple[str, int, str], list[Alert]] = defaultdict(list)
    for kc in cover:
        entry = kc.entry
        if entry is not None:
            paged[(entry.path, entry.line, entry.anchor)] += kc.alerts
    out: list[Finding] = []
    for entry in runbook.entries:
        flags = [f for f in entry.flags if f in _QUALITY_FLAGS]
        if not flags:
            continue
        hits = paged.get((entry.path, entry.line, entry.anchor), [])
        link = runbook.link(entry)
        evidence: dict[str, int | float | str] = {
            "flags": ", ".join(flags),
            "line": entry.line,
            "pages": len(hits),
        }
        if entry.path:
            evidence["path"] = entry.path
        if link:
            evidence["link"] = link
        out.append(
            Finding(
                kind=FindingKind.RUNBOOK_QUALITY,
                subject=_entry_subject(entry),
                summary=", ".join(flags),
                pages=len(hits),
                evidence=evidence,
                examples=_examples(_in_order(hits)),
            )
        )
    for kc in cover:
        if kc.status != "broken-link":
            continue
        evidence = {"alerts": len(kc.alerts)}
        if kc.link is not None:
            evidence["link"] = kc.link.url
        out.append(
            Finding(
                kind=FindingKind.RUNBOOK_QUALITY,
                subject=kc.kind,
                summary="its runbook link does not resolve",
                pages=len(kc.alerts),
                evidence=evidence,
                examples=_examples(_in_order(kc.alerts)),
            )
        )
    return ranked(out)
