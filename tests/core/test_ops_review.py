"""ops-review's report without Prefect: the cost of a filed finding, the week's pictures, and
the review in its three renderings."""

from __future__ import annotations

from datetime import timedelta

from oncall import advocacy, ops_review
from oncall.clock import SleepHours
from oncall.findings import Finding, FindingKind, fingerprint
from oncall.handoff_render import SLACK_SECTION
from oncall.kinds import alert_kind
from oncall.models import TimeWindow
from tests.factories import END, START, alert

TZ = "America/New_York"
NIGHT = SleepHours.parse("22:00-07:00")
DISK = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-1 warning)"
CERT = "Pingdom: cert expires soon on lms.example.edu"
WEEK = TimeWindow(start=START, end=END)


def _digest() -> advocacy.Digest:
    return advocacy.digest([], [], now=END, week_start=START, pages_since=lambda fp, since: 0)


def test_a_filed_finding_costs_its_kinds_pages_since_the_issue_was_filed() -> None:
    alerts = [alert(DISK, at=START + timedelta(hours=h)) for h in (1, 5, 30, 50)]
    alerts += [alert(CERT, at=START + timedelta(hours=2))]
    cost = ops_review.pages_since(alerts, tz=TZ, sleep=NIGHT, rotation="Primary")
    kind = alert_kind(DISK)
    for finding in (FindingKind.NOISE, FindingKind.FLAPPING, FindingKind.RESOLVED_ITSELF):
        fp = fingerprint(finding, kind)
        assert cost(fp, START) == 4
        assert cost(fp, START + timedelta(hours=5)) == 3  # from the filing on, that page too
        assert cost(fp, START + timedelta(hours=51)) == 0
    assert cost(fingerprint(FindingKind.NOISE, alert_kind(CERT)), START) == 1
    assert cost("0123456789abcdef", START) == 0  # a finding nothing in the read pages for


def test_sleep_load_costs_the_rotations_sleep_hours_pages() -> None:
    # START is 10:00 New York; +14 h is midnight there, +20 h 06:00, +22 h 08:00
    alerts = [alert(DISK, at=START + timedelta(hours=h)) for h in (14, 20, 22)]
    cost = ops_review.pages_since(alerts, tz=TZ, sleep=NIGHT, rotation="Primary")
    assert cost(fingerprint(FindingKind.SLEEP_LOAD, "Primary"), START) == 2
    assert cost(fingerprint(FindingKind.SLEEP_LOAD, "Secondary"), START) == 0


def test_the_cost_read_reaches_back_to_the_oldest_issue_but_no_further_than_the_look_back() -> None:
    assert ops_review.cost_start({}, WEEK) == START
    assert ops_review.cost_start({"a": START - timedelta(days=20)}, WEEK) == START - timedelta(days=20)
    assert ops_review.cost_start({"a": START + timedelta(days=1)}, WEEK) == START
    assert ops_review.cost_start({"a": START - timedelta(days=400)}, WEEK) == END - ops_review.COST_LOOKBACK


def test_pages_per_day_has_every_local_day_and_the_hours_add_up() -> None:
    inside = [alert(DISK, at=START + timedelta(hours=h)) for h in (0, 1, 26, 27, 28)]
    outside = [alert(DISK, at=START - timedelta(hours=1)), alert(DISK, at=END)]
    days = ops_review.per_day([*inside, *outside], WEEK, TZ)
    assert [d for d, _ in days][:2] == ["2026-11-17", "2026-11-18"]
    assert len(days) == 8 and sum(n for _, n in days) == len(inside)  # Tue 10:00 to Tue 10:00
    assert days[0][1] == 2 and days[1][1] == 3 and all(n == 0 for _, n in days[2:])
    hours = ops_review.by_hour([*inside, *outside], WEEK, TZ)
    assert (
        len(hours) == 24 and sum(hours) == len(inside) and hours[10:15] == [1] * 5
    )  # 10:00, 11:00, then 12:00-14:00 next day


def test_an_empty_window_says_so_and_shows_no_findings_or_charts() -> None:
    review = ops_review.Review(window=WEEK, tz=TZ, alerts=0, findings=(), digest=_digest())
    text = ops_review.markdown(review)
    assert "No alerts in the window: nothing to review, and nothing was filed." in text
    assert "## Findings" not in text and "## Pages" not in text
    assert "## Operational safety digest" in text
    payload = ops_review.slack_payload(review)
    assert "nothing was filed" in payload["text"]


def test_hostile_subjects_are_escaped_in_each_rendering_and_slack_keeps_its_limits() -> None:
    hostile = "<!channel> **boom** [x](https://evil.example) `rm -rf` " + "A" * 5000
    findings = tuple(
        Finding(kind=FindingKind.NOISE, subject=f"{hostile}{n}", summary="pages 40 times a day", pages=40 - n)
        for n in range(8)
    )
    fp = findings[0].fingerprint
    review = ops_review.Review(
        window=WEEK,
        tz=TZ,
        alerts=300,
        findings=findings,
        outcomes={fp: "filed"},
        links={fp: "https://github.com/o/r/issues/7"},
        per_day=tuple(ops_review.per_day([], WEEK, TZ)),
        by_hour=(0,) * 24,
        digest=_digest(),
    )
    text = ops_review.markdown(review)
    assert "**boom**" not in text and "](https://evil" not in text and r"\*\*boom\*\*" in text
    assert "8 findings (1 filed)" in text
    payload = ops_review.slack_payload(review)
    rendered = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert all(len(t) <= SLACK_SECTION for t in rendered)
    top = next(t for t in rendered if t.startswith("*Top findings*"))
    assert "<!channel>" not in top and "…and 3 more in the report" in top
    assert "<https://github.com/o/r/issues/7|issue>" in top


def test_a_new_issue_gets_a_mermaid_chart_of_its_kinds_pages_per_day() -> None:
    alerts = [alert(DISK, at=START + timedelta(hours=h)) for h in (1, 2, 30)]
    noisy = Finding(kind=FindingKind.NOISE, subject=alert_kind(DISK), summary="s", pages=3)
    service = Finding(kind=FindingKind.REPEAT_INCIDENTS, subject="svc-lms", summary="s", pages=0)
    charts = ops_review.finding_charts([noisy, service], alerts, WEEK, TZ)
    assert set(charts) == {noisy.fingerprint}
    chart = charts[noisy.fingerprint]
    assert chart.startswith("```mermaid\nxychart-beta") and "bar [2, 1, 0, 0, 0, 0, 0, 0]" in chart
