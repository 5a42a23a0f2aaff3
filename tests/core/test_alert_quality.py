"""Alert-quality findings: each kind just under its threshold and at it, the two unactionable
kinds told apart, per-person figures only when asked, the worst night in the team's zone, and
counts over 50,000 alerts checked against a plain recount."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from oncall.alert_quality import ALL_ROTATIONS, EXAMPLES, Thresholds, findings, runbook_findings
from oncall.clock import BusinessHours, SleepHours, interruption
from oncall.coe import related_alerts
from oncall.findings import Finding, FindingKind
from oncall.gaps import KindCoverage
from oncall.kinds import alert_kind
from oncall.links import LinkCheck, LinkStatus
from oncall.models import Alert, Incident, Priority, TimeWindow
from oncall.runbook import Runbook
from oncall.settings import Settings
from tests.factories import END, START, alert, incident, runbook_entry

TZ = "America/New_York"
BUSINESS = BusinessHours.parse("Mon-Fri 09:00-17:00")
SLEEP = SleepHours.parse("22:00-07:00")
WINDOW = TimeWindow(start=START, end=END)  # Tue 17 Nov 10:00 New York, 7 days
MIDDAY = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # Wed 12:00 New York: business hours

FLAP = "[Prometheus]: [FIRING:1] FlappyCheck mitx-production (edxapp)"
NOISY = "[Prometheus]: [FIRING:1] NoisyCheck mitx-production (forum)"
OTHER = "[Prometheus]: [FIRING:1] QuietCheck mitx-production (cms)"


def run(alerts: list[Alert], incidents: list[Incident] | None = None, **kw: Any) -> list[Finding]:
    args: dict[str, Any] = {
        "window": WINDOW,
        "thresholds": Thresholds(),
        "tz": TZ,
        "business": BUSINESS,
        "sleep": SLEEP,
        "now": END,
    }
    args.update(kw)
    return findings(alerts, incidents, **args)


def of(kind: FindingKind, found: list[Finding], subject: str | None = None) -> list[Finding]:
    return [f for f in found if f.kind is kind and (subject is None or f.subject == subject)]


def cycles(n: int, message: str = FLAP, every: timedelta = timedelta(hours=2), **kw: Any) -> list[Alert]:
    """`n` alerts of one kind opened and closed (after 10 minutes, acknowledged), `every` apart."""
    fields: dict[str, Any] = {
        "close_after": timedelta(minutes=10),
        "acknowledged": True,
        "ack_after": timedelta(minutes=1),
        "acknowledged_by": "alice@example.edu",
    }
    fields.update(kw)
    return [alert(message, at=MIDDAY + i * every, **fields) for i in range(n)]


# --- thresholds ------------------------------------------------------------------------------


def test_every_threshold_defaults_to_its_settings_default() -> None:
    for name, field in Thresholds.model_fields.items():
        assert field.default == Settings.model_fields[name].default, name


def test_thresholds_are_read_from_the_settings() -> None:
    s = Settings(flap_min_cycles=9, noise_per_day=2.5, escalation_minutes=11, repeat_incident_min=4)
    t = Thresholds.from_settings(s)
    assert (t.flap_min_cycles, t.noise_per_day, t.escalation_minutes, t.repeat_incident_min) == (
        9,
        2.5,
        11,
        4,
    )
    assert t.unactionable_minutes == s.unactionable_minutes


# --- empty and out of window ------------------------------------------------------------------


def test_an_empty_window_has_no_findings() -> None:
    assert run([]) == []
    assert run([], []) == []


def test_alerts_created_outside_the_window_count_for_nothing() -> None:
    before = [
        alert(NOISY, at=START - timedelta(hours=1), count=1000, closed_by="Alert API") for _ in range(5)
    ]
    after = [alert(NOISY, at=END, count=1000) for _ in range(5)]
    assert run(before + after, []) == []


# --- flapping --------------------------------------------------------------------------------


def test_a_kind_opened_and_closed_one_time_under_the_threshold_is_not_flapping() -> None:
    assert of(FindingKind.FLAPPING, run(cycles(4))) == []


def test_a_kind_opened_and_closed_the_threshold_times_is_flapping() -> None:
    (found,) = of(FindingKind.FLAPPING, run(cycles(5)))
    assert found.subject == alert_kind(FLAP)
    assert found.evidence["cycles"] == 5
    assert found.evidence["reopens"] == 0
    assert found.pages == 5


def test_an_open_alert_is_no_cycle() -> None:
    alerts = [*cycles(4), alert(FLAP, at=MIDDAY + timedelta(days=1), status="open")]
    assert of(FindingKind.FLAPPING, run(alerts)) == []


@pytest.mark.parametrize(("gap", "flaps"), [(30, True), (31, False)])
def test_a_reopen_within_the_minutes_after_closing_is_flapping(gap: int, flaps: bool) -> None:
    first = alert(FLAP, at=MIDDAY, close_after=timedelta(minutes=10), acknowledged=True)
    again = alert(FLAP, at=MIDDAY + timedelta(minutes=10 + gap), close_after=timedelta(minutes=5))
    found = of(FindingKind.FLAPPING, run([again, first]))
    assert bool(found) is flaps
    if flaps:
        assert found[0].evidence["reopens"] == 1
        assert found[0].evidence["quickest_reopen_minutes"] == 30


def test_an_alert_opened_while_the_last_is_still_open_is_no_reopen() -> None:
    """Overlapping alerts: the second opened before the first closed, so it did not reopen."""
    first = alert(FLAP, at=MIDDAY, close_after=timedelta(hours=2))
    during = alert(FLAP, at=MIDDAY + timedelta(minutes=30), close_after=timedelta(hours=3))
    assert of(FindingKind.FLAPPING, run([first, during])) == []


def test_the_quickest_reopen_is_measured_from_the_latest_close_before_it() -> None:
    a = alert(FLAP, at=MIDDAY, close_after=timedelta(minutes=10))  # closes 12:10
    b = alert(FLAP, at=MIDDAY + timedelta(minutes=5), close_after=timedelta(minutes=55))  # closes 13:00
    c = alert(FLAP, at=MIDDAY + timedelta(minutes=62))  # 13:02: 2 minutes after b closed
    (found,) = of(FindingKind.FLAPPING, run([a, b, c]))
    assert found.evidence["quickest_reopen_minutes"] == 2
    assert found.evidence["reopens"] == 1


# --- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("occurrences", "noisy"), [(70, False), (71, True)])
def test_a_kind_paging_more_than_the_threshold_a_day_is_noise(occurrences: int, noisy: bool) -> None:
    """Seven days at 10 a day: 70 occurrences is at the threshold, not above it."""
    alerts = [alert(NOISY, at=MIDDAY, count=occurrences), alert(OTHER, at=MIDDAY)]
    found = of(FindingKind.NOISE, run(alerts))
    assert bool(found) is noisy
    if noisy:
        assert found[0].subject == alert_kind(NOISY)
        assert found[0].evidence["occurrences"] == 71
        assert found[0].evidence["share_of_pages_pct"] == 50.0  # one page of two


# --- nobody acked / resolved by itself ---------------------------------------------------------


def unacked(n: int, **kw: Any) -> list[Alert]:
    return [alert(OTHER, at=MIDDAY + timedelta(hours=i), **kw) for i in range(n)]


def test_alerts_the_system_closed_within_minutes_resolved_by_themselves() -> None:
    found = run(unacked(3, closed_by="Alert API", close_after=timedelta(minutes=5)))
    (itself,) = of(FindingKind.RESOLVED_ITSELF, found)
    assert itself.subject == alert_kind(OTHER)
    assert itself.pages == 3
    assert of(FindingKind.NOBODY_ACKED, found) == []


def test_fewer_than_the_minimum_unactionable_alerts_are_no_finding() -> None:
    found = run(unacked(2, closed_by="Alert API", close_after=timedelta(minutes=1)))
    assert of(FindingKind.RESOLVED_ITSELF, found) == of(FindingKind.NOBODY_ACKED, found) == []


@pytest.mark.parametrize("closer", [None, "Alertmanager", "System"])
def test_no_closer_or_the_integration_is_the_system(closer: str | None) -> None:
    found = run(unacked(3, closed_by=closer, integration="Alertmanager", close_after=timedelta(minutes=2)))
    assert len(of(FindingKind.RESOLVED_ITSELF, found)) == 1


def test_a_person_closing_without_acknowledging_is_nobody_acked_however_quick() -> None:
    found = run(unacked(3, closed_by="bruno.diaz@example.edu", close_after=timedelta(minutes=1)))
    (nobody,) = of(FindingKind.NOBODY_ACKED, found)
    assert nobody.evidence["closed_by_a_person"] == 3
    assert of(FindingKind.RESOLVED_ITSELF, found) == []


def test_a_page_the_system_cleared_after_the_minutes_went_unattended() -> None:
    found = run(unacked(3, closed_by="Alert API", close_after=timedelta(minutes=6)))
    (nobody,) = of(FindingKind.NOBODY_ACKED, found)
    assert nobody.evidence["cleared_by_the_system"] == 3
    assert of(FindingKind.RESOLVED_ITSELF, found) == []


def test_acknowledged_or_open_alerts_are_never_unactionable() -> None:
    acked = unacked(3, closed_by="Alert API", close_after=timedelta(minutes=1), acknowledged=True)
    by_ack_time = unacked(
        3, closed_by="bob", close_after=timedelta(minutes=9), ack_after=timedelta(minutes=2)
    )
    still_open = unacked(3, status="open")
    found = run(acked + by_ack_time + still_open)
    assert of(FindingKind.RESOLVED_ITSELF, found) == of(FindingKind.NOBODY_ACKED, found) == []


def test_a_mixed_kind_splits_between_the_two() -> None:
    itself = unacked(3, closed_by="Alert API", close_after=timedelta(minutes=3))
    people = unacked(4, closed_by="chen.li@example.edu", close_after=timedelta(minutes=40))
    found = run(itself + people)
    assert [f.pages for f in of(FindingKind.RESOLVED_ITSELF, found)] == [3]
    assert [f.pages for f in of(FindingKind.NOBODY_ACKED, found)] == [4]


# --- sleep load --------------------------------------------------------------------------------


def local(y: int, mo: int, d: int, h: int, mi: int, offset_hours: int) -> datetime:
    """A New York wall time given with its UTC offset (-5 in winter, -4 in summer), in UTC."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC) - timedelta(hours=offset_hours)


def test_pages_split_by_part_of_the_day_with_the_worst_night_across_midnight() -> None:
    alerts = [
        alert(OTHER, at=local(2026, 11, 18, 12, 0, -5), acknowledged_by="alice@example.edu"),  # business
        alert(OTHER, at=local(2026, 11, 18, 19, 0, -5), owner="bruno@example.edu"),  # off hours
        alert(
            OTHER, at=local(2026, 11, 20, 23, 30, -5), acknowledged_by="alice@example.edu"
        ),  # night of the 20th
        alert(OTHER, at=local(2026, 11, 21, 1, 15, -5), acknowledged_by="alice@example.edu"),  # same night
        alert(OTHER, at=local(2026, 11, 21, 6, 59, -5), owner="bruno@example.edu"),  # same night
        alert(OTHER, at=local(2026, 11, 22, 3, 0, -5)),  # night of the 21st
        alert(OTHER, at=local(2026, 11, 22, 7, 0, -5)),  # Sunday morning: off hours, night over
    ]
    (load,) = of(FindingKind.SLEEP_LOAD, run(alerts))
    assert load.subject == ALL_ROTATIONS
    assert (load.evidence["business"], load.evidence["off"], load.evidence["sleep"]) == (1, 2, 4)
    assert load.evidence["worst_night"] == "2026-11-20"
    assert load.evidence["worst_night_pages"] == 3
    assert load.pages == 4
    assert not any("@" in str(k) or "@" in str(v) for k, v in load.evidence.items())  # no people unless asked


def test_per_person_figures_appear_only_when_asked() -> None:
    alerts = [
        alert(OTHER, at=local(2026, 11, 20, 23, 30, -5), acknowledged_by="alice@example.edu", owner="x"),
        alert(OTHER, at=local(2026, 11, 18, 12, 0, -5), owner="bruno@example.edu"),
    ]
    (load,) = of(FindingKind.SLEEP_LOAD, run(alerts, per_person=True, rotation="Primary"))
    assert load.subject == "Primary"
    assert load.evidence["pages: alice@example.edu"] == 1
    assert load.evidence["sleep pages: alice@example.edu"] == 1
    assert load.evidence["pages: bruno@example.edu"] == 1
    assert load.evidence["sleep pages: bruno@example.edu"] == 0
    assert "pages: x" not in load.evidence  # who acknowledged counts before the owner
    (hidden,) = of(FindingKind.SLEEP_LOAD, run(alerts, rotation="Primary"))
    assert not [k for k in hidden.evidence if "example.edu" in k]


def test_the_worst_night_spans_the_end_of_daylight_saving_time() -> None:
    """New York left DST at 02:00 on Sunday 1 Nov 2026: 23:30 EDT and 02:30 EST are one night."""
    window = TimeWindow(start=datetime(2026, 10, 29, tzinfo=UTC), end=datetime(2026, 11, 4, tzinfo=UTC))
    alerts = [
        alert(OTHER, at=local(2026, 10, 31, 23, 30, -4)),
        alert(OTHER, at=local(2026, 11, 1, 2, 30, -5)),
        alert(OTHER, at=local(2026, 11, 1, 6, 50, -5)),
        alert(OTHER, at=local(2026, 11, 1, 7, 10, -5)),  # EST 07:10: the night is over
        alert(OTHER, at=local(2026, 11, 2, 22, 5, -5)),
    ]
    (load,) = of(FindingKind.SLEEP_LOAD, run(alerts, window=window))
    assert load.evidence["worst_night"] == "2026-10-31"
    assert load.evidence["worst_night_pages"] == 3
    assert load.evidence["sleep"] == 4


def test_no_sleep_hours_page_is_no_sleep_load() -> None:
    alerts = [
        alert(OTHER, at=local(2026, 11, 18, 12, 0, -5)),
        alert(OTHER, at=local(2026, 11, 18, 21, 59, -5)),
    ]
    assert of(FindingKind.SLEEP_LOAD, run(alerts)) == []


# --- escalation misses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "fields", "missed"),
    [
        (Priority.P1, {"ack_after": timedelta(minutes=5)}, False),  # at the escalation time: in time
        (Priority.P1, {"ack_after": timedelta(minutes=6)}, True),
        (Priority.P2, {"close_after": timedelta(minutes=20)}, True),  # nobody acknowledged it
        (Priority.P2, {"close_after": timedelta(minutes=4)}, False),  # closed before it escalated
        (Priority.P3, {"ack_after": timedelta(minutes=60)}, False),  # not urgent
        (Priority.P3, {"close_after": timedelta(hours=3)}, False),
    ],
)
def test_a_p1_or_p2_nobody_acknowledged_in_time_is_an_escalation_miss(
    priority: Priority, fields: dict[str, Any], missed: bool
) -> None:
    found = of(FindingKind.ESCALATION_MISS, run([alert(OTHER, at=MIDDAY, priority=priority, **fields)]))
    assert bool(found) is missed


def test_escalation_misses_are_one_finding_per_kind() -> None:
    alerts = [
        alert(OTHER, at=MIDDAY, priority=Priority.P1, close_after=timedelta(minutes=30)),
        alert(OTHER, at=MIDDAY + timedelta(hours=1), priority=Priority.P2, ack_after=timedelta(minutes=9)),
        alert(FLAP, at=MIDDAY, priority=Priority.P1, status="open"),  # still open at `now`
    ]
    found = of(FindingKind.ESCALATION_MISS, run(alerts))
    assert sorted((f.subject, f.pages) for f in found) == sorted(
        [(alert_kind(OTHER), 2), (alert_kind(FLAP), 1)]
    )
    other = of(FindingKind.ESCALATION_MISS, found, alert_kind(OTHER))[0]
    assert other.evidence["never_acknowledged"] == 1


# --- P1 with no incident -----------------------------------------------------------------------------


def test_a_p1_without_incidents_is_a_finding_only_where_the_source_has_incidents() -> None:
    p1 = alert(OTHER, at=MIDDAY, priority=Priority.P1, acknowledged=True, ack_after=timedelta(minutes=1))
    assert of(FindingKind.P1_NO_INCIDENT, run([p1], None)) == []
    (found,) = of(FindingKind.P1_NO_INCIDENT, run([p1], []))
    assert found.subject == alert_kind(OTHER)
    assert [e.id for e in found.examples] == [p1.id]


def test_a_p1_during_an_incident_has_one() -> None:
    p1 = alert(OTHER, at=MIDDAY, priority=Priority.P1)
    inc = incident(
        priority=Priority.P1,
        created_at=MIDDAY - timedelta(minutes=10),
        resolved_at=MIDDAY + timedelta(hours=1),
    )
    assert of(FindingKind.P1_NO_INCIDENT, run([p1], [inc])) == []


def test_an_incident_with_tagged_alerts_claims_only_those() -> None:
    p1 = alert(OTHER, at=MIDDAY, priority=Priority.P1)
    tagged = alert(FLAP, at=MIDDAY, priority=Priority.P3, tags=("incident-7",))
    inc = incident(
        id="i7",
        tiny_id="7",
        priority=Priority.P1,
        created_at=MIDDAY - timedelta(minutes=10),
        resolved_at=MIDDAY + timedelta(hours=1),
    )
    (found,) = of(FindingKind.P1_NO_INCIDENT, run([p1, tagged], [inc]))
    assert found.subject == alert_kind(OTHER)


def test_a_p1_long_after_an_incident_has_none() -> None:
    p1 = alert(OTHER, at=MIDDAY + timedelta(days=2), priority=Priority.P1)
    inc = incident(priority=Priority.P1, created_at=MIDDAY, resolved_at=MIDDAY + timedelta(hours=1))
    assert len(of(FindingKind.P1_NO_INCIDENT, run([p1], [inc]))) == 1


# --- repeat incidents ------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "repeats"), [(1, False), (2, True)])
def test_a_service_with_the_minimum_incidents_repeats(n: int, repeats: bool) -> None:
    incs = [
        incident(id=f"i{k}", created_at=MIDDAY + timedelta(days=k), impacted_services=("lms",))
        for k in range(n)
    ]
    incs.append(incident(id="old", created_at=START - timedelta(days=1), impacted_services=("lms",)))
    found = of(FindingKind.REPEAT_INCIDENTS, run([], incs))
    assert bool(found) is repeats
    if repeats:
        assert found[0].subject == "lms"
        assert found[0].evidence["incidents"] == 2
        assert [e.id for e in found[0].examples] == ["i1", "i0"]


def test_an_incident_naming_no_service_counts_for_the_kind_of_its_message() -> None:
    incs = [
        incident(id="a", message="Database 10.0.0.1 down", created_at=MIDDAY),
        incident(id="b", message="Database 10.0.0.2 down", created_at=MIDDAY + timedelta(hours=3)),
    ]
    (found,) = of(FindingKind.REPEAT_INCIDENTS, run([], incs))
    assert found.subject == alert_kind("Database 10.0.0.1 down")
    assert of(FindingKind.REPEAT_INCIDENTS, run([], None)) == []  # no incidents, nothing to repeat


# --- examples, ranking, determinism ------------------------------------------------------------------


def test_examples_are_the_few_most_recent_with_their_link_and_priority() -> None:
    alerts = cycles(8, url="https://og.example/alert/x", priority=Priority.P2)
    (found,) = of(FindingKind.FLAPPING, run(alerts))
    newest = sorted(alerts, key=lambda a: a.created_at, reverse=True)[:EXAMPLES]
    assert [e.id for e in found.examples] == [a.id for a in newest]
    assert all(e.url == "https://og.example/alert/x" and e.priority is Priority.P2 for e in found.examples)


def test_untrusted_titles_pass_through_raw() -> None:
    title = "<script>@channel</script> `x` *y*"
    (found,) = of(FindingKind.FLAPPING, run(cycles(5, message=title)))
    assert found.examples[0].title == title


def mixed_week() -> list[Alert]:
    return (
        cycles(6)
        + [
            alert(
                NOISY,
                at=MIDDAY + timedelta(hours=i),
                count=30,
                closed_by="Alert API",
                close_after=timedelta(minutes=1),
            )
            for i in range(4)
        ]
        + [
            alert(
                OTHER,
                at=local(2026, 11, 20, 23, 30, -5),
                priority=Priority.P1,
                close_after=timedelta(minutes=30),
            )
        ]
    )


def test_findings_are_ranked_by_pages_then_kind_then_subject() -> None:
    found = run(mixed_week(), [])
    keys = [(-f.pages, f.kind.value, f.subject) for f in found]
    assert keys == sorted(keys)
    assert len({f.kind for f in found}) >= 5


def test_the_same_alerts_in_any_order_give_the_same_findings_and_fingerprints() -> None:
    alerts = mixed_week()
    first = run(alerts, [])
    shuffled = alerts[:]
    random.Random(7).shuffle(shuffled)
    again = run(shuffled, [])
    assert again == first
    assert [f.fingerprint for f in again] == [f.fingerprint for f in first]
    later = run(
        alerts + cycles(3, message=FLAP, every=timedelta(hours=5)), []
    )  # more evidence, same problems
    assert {f.fingerprint for f in first if f.kind is FindingKind.FLAPPING} <= {f.fingerprint for f in later}


# --- runbook quality -------------------------------------------------------------------------------


def test_runbook_entries_without_mitigation_or_stubs_and_broken_links_are_findings() -> None:
    good = runbook_entry("DiskFull", "lms", line=3)
    bare = runbook_entry("QueueDepthHigh", "forum", line=20, has_mitigation=False, anchor="queuedepthhigh")
    stub = runbook_entry("CertExpiring", None, line=40, stub=True)
    no_diagnosis = runbook_entry("CpuHigh", None, line=60, has_diagnosis=False)
    runbook = Runbook(
        source="runbook.md",
        url="https://git.example/runbook.md",
        entries=(good, bare, stub, no_diagnosis),
        products=(),
    )
    paged = [alert(NOISY, at=MIDDAY + timedelta(hours=i)) for i in range(3)]
    broken = [alert(FLAP, at=MIDDAY)]
    coverage = [
        KindCoverage(
            kind="QueueDepthHigh forum",
            fingerprint="f1",
            alerts=paged,
            match=None,
            covered=0,
            link=LinkCheck(
                url="https://git.example/runbook.md#queuedepthhigh",
                status=LinkStatus.OK,
                reason="ok",
                entry=bare,
            ),
        ),
        KindCoverage(
            kind="FlappyCheck edxapp",
            fingerprint="f2",
            alerts=broken,
            match=None,
            covered=0,
            link=LinkCheck(
                url="https://git.example/runbook.md#nope", status=LinkStatus.BROKEN, reason="no heading"
            ),
        ),
    ]
    found = runbook_findings(runbook, coverage)
    assert all(f.kind is FindingKind.RUNBOOK_QUALITY and not f.kind.fileable for f in found)
    by_subject = {f.subject: f for f in found}
    assert set(by_subject) == {"forum: QueueDepthHigh", "CertExpiring", "FlappyCheck edxapp"}
    assert by_subject["forum: QueueDepthHigh"].summary == "no Mitigation"
    assert by_subject["forum: QueueDepthHigh"].pages == 3
    assert (
        by_subject["forum: QueueDepthHigh"].evidence["link"]
        == "https://git.example/runbook.md#queuedepthhigh"
    )
    assert by_subject["CertExpiring"].summary == "stub"
    assert by_subject["CertExpiring"].pages == 0
    assert by_subject["FlappyCheck edxapp"].evidence["link"] == "https://git.example/runbook.md#nope"
    assert found[0].subject == "forum: QueueDepthHigh"  # most pages first
    assert runbook_findings(Runbook(source="r.md", entries=(good,), products=())) == []


# --- scale -------------------------------------------------------------------------------------------


def test_fifty_thousand_alerts_over_eight_shifts_count_as_a_plain_recount_does() -> None:
    """Counts over 50,000 generated alerts, against a recount that knows each alert's kind by how
    it was generated and reads each rule in the plainest way. UTC, so the night is hours 22-07."""
    rng = random.Random(20)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    window = TimeWindow(start=start, end=start + timedelta(weeks=8))
    names = [f"Check{n}Failing" for n in range(40)]
    alerts: list[Alert] = []
    truth: list[str] = []
    for i in range(50_000):
        name = rng.choice(names)
        closed = rng.random() < 0.9
        acked = rng.random() < 0.6
        alerts.append(
            Alert.lean(
                id=f"s{i}",
                message=f"[Prometheus]: [FIRING:1] {name} mitx-production (app ip-10-0-{i % 250}-{i % 199})",
                status="closed" if closed else "open",
                acknowledged=acked,
                ack_after=timedelta(minutes=rng.randrange(1, 15)) if acked else None,
                close_after=timedelta(minutes=rng.randrange(1, 90)) if closed else None,
                closed_by=rng.choice(["Alert API", "dana.okafor@example.edu"]) if closed else None,
                priority=rng.choice([Priority.P1, Priority.P2, Priority.P3]),
                count=rng.randrange(1, 4),
                created_at=start + timedelta(seconds=rng.randrange(-86400, 8 * 7 * 86400 + 86400)),
            )
        )
        truth.append(f"{name} app")
    t = Thresholds(noise_per_day=15.0, unactionable_min_alerts=1)
    found = findings(
        alerts, None, window=window, thresholds=t, tz="UTC", business=BUSINESS, sleep=SLEEP, now=window.end
    )

    inside = [(a, k) for a, k in zip(alerts, truth, strict=True) if window.start <= a.created_at < window.end]
    occurrences: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    itself: Counter[str] = Counter()
    nobody: Counter[str] = Counter()
    sleep = 0
    for a, k in inside:
        occurrences[k] += a.count
        if a.status == "closed":
            closes[k] += 1
            if not a.acknowledged:
                assert a.close_after is not None
                quick = a.close_after <= timedelta(minutes=5)
                (itself if a.closed_by == "Alert API" and quick else nobody)[k] += 1
        if a.created_at.hour >= 22 or a.created_at.hour < 7:
            sleep += 1
    assert {f.subject for f in of(FindingKind.NOISE, found)} == {
        k for k, n in occurrences.items() if n / 56 > 15
    }
    assert {f.subject: f.evidence["occurrences"] for f in of(FindingKind.NOISE, found)} == {
        k: n for k, n in occurrences.items() if n / 56 > 15
    }
    assert {f.subject: f.evidence["cycles"] for f in of(FindingKind.FLAPPING, found)} == dict(closes)
    assert {f.subject: f.pages for f in of(FindingKind.RESOLVED_ITSELF, found)} == dict(itself)
    assert {f.subject: f.pages for f in of(FindingKind.NOBODY_ACKED, found)} == dict(nobody)
    (load,) = of(FindingKind.SLEEP_LOAD, found)
    assert load.evidence["sleep"] == sleep
    assert load.evidence["business"] + load.evidence["off"] + load.evidence["sleep"] == len(inside)  # type: ignore[operator]
    assert all(len(f.examples) <= EXAMPLES for f in found)
    assert date.fromisoformat(str(load.evidence["worst_night"])) >= window.start.date() - timedelta(days=1)


def test_p1s_without_an_incident_agree_with_asking_every_incident_about_every_alert() -> None:
    """The core asks `related_alerts` about the P1s and tagged alerts near each incident only;
    asking it about every alert, incident by incident, must leave the same P1s unclaimed."""
    rng = random.Random(3)
    alerts = [
        alert(
            rng.choice([FLAP, NOISY, OTHER]),
            at=START + timedelta(minutes=rng.randrange(7 * 24 * 60)),
            priority=rng.choice([Priority.P1, Priority.P2, Priority.P3, None]),
            tags=rng.choice([(), (), ("incident-3",), ("i5",)]),
        )
        for _ in range(400)
    ]
    incs = [
        incident(
            id=f"i{k}",
            tiny_id=str(k),
            priority=rng.choice([Priority.P1, Priority.P2, None]),
            created_at=(at := START + timedelta(minutes=rng.randrange(7 * 24 * 60))),
            resolved_at=at + timedelta(minutes=rng.randrange(5, 600)),
        )
        for k in range(12)
    ]
    claimed = {a.id for inc in incs for a in related_alerts(inc, alerts)}
    expected = Counter(
        alert_kind(a.message) for a in alerts if a.priority is Priority.P1 and a.id not in claimed
    )
    found = of(FindingKind.P1_NO_INCIDENT, run(alerts, incs))
    assert {f.subject: f.pages for f in found} == dict(expected)
    assert 0 < sum(expected.values()) < sum(a.priority is Priority.P1 for a in alerts)  # both sides exercised


def test_the_parts_of_the_day_and_nights_agree_with_the_clock_asked_alert_by_alert() -> None:
    """The core asks the clock once per local minute of the week and side of the night; asking
    it about each alert in New York across the end of DST must give the same counts."""
    rng = random.Random(11)
    window = TimeWindow(start=datetime(2026, 10, 20, tzinfo=UTC), end=datetime(2026, 11, 10, tzinfo=UTC))
    alerts = [
        alert(OTHER, at=window.start + timedelta(seconds=rng.randrange(int(window.length.total_seconds()))))
        for _ in range(3000)
    ]
    parts = Counter(interruption(a.created_at, TZ, BUSINESS, SLEEP) for a in alerts)
    nights = Counter(SLEEP.night_of(a.created_at, TZ) for a in alerts if SLEEP.contains(a.created_at, TZ))
    worst = max(nights.values())
    (load,) = of(FindingKind.SLEEP_LOAD, run(alerts, window=window))
    assert (load.evidence["business"], load.evidence["off"], load.evidence["sleep"]) == (
        parts["business"],
        parts["off"],
        parts["sleep"],
    )
    assert load.evidence["worst_night_pages"] == worst
    assert load.evidence["worst_night"] == max(n for n, c in nights.items() if c == worst).isoformat()
