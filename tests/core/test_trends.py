"""Shift figures, their comparison, their storage in one Variable, and the charts drawn of them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from oncall.charts import BLOCKS, bar_rows, mermaid_xy, sparkline
from oncall.clock import BusinessHours, SleepHours
from oncall.models import TimeWindow
from oncall.trends import (
    VARIABLE_LIMIT,
    History,
    ShiftStats,
    compare,
    decode,
    encode,
    shift_stats,
    trend_markdown,
    variable_name,
)
from tests.factories import END, START, alert

TZ = "America/New_York"
BUSINESS = BusinessHours.parse("Mon-Fri 09:00-17:00")
SLEEP = SleepHours.parse("22:00-07:00")
WEEK = TimeWindow(start=START, end=END)


def _ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 instant given in New York time (EST, UTC-5)."""
    return (
        datetime(2026, 11, day, hour + 5, minute, tzinfo=UTC)
        if hour + 5 < 24
        else datetime(2026, 11, day + 1, hour + 5 - 24, minute, tzinfo=UTC)
    )


def _stats(start: datetime, **kw: object) -> ShiftStats:
    values: dict[str, object] = {"start": start, "end": start + timedelta(days=7), "alerts": 10}
    values |= {"after_hours": 4, "sleep": 1} | kw
    return ShiftStats.model_validate(values)


def test_a_shift_counts_business_off_and_sleep_pages_in_the_team_zone() -> None:
    alerts = [
        alert(at=_ny(18, 10), ack_after=timedelta(minutes=2), close_after=timedelta(minutes=30)),
        alert(at=_ny(18, 19), ack_after=timedelta(minutes=4)),  # off hours, awake
        alert(at=_ny(19, 2)),  # 02:00 local: asleep (07:00 UTC, business hours in London)
        alert(at=_ny(21, 11)),  # Saturday 11:00: off hours, not asleep
        alert(at=START - timedelta(minutes=1)),  # before the shift: not counted
    ]
    stats = shift_stats(WEEK, alerts, TZ, BUSINESS, SLEEP, coverage=0.5)
    assert (stats.alerts, stats.after_hours, stats.sleep) == (4, 3, 1)
    assert stats.mtta == 180 and stats.mttr == 1800
    assert (
        stats.by_hour[10] == 1
        and stats.by_hour[19] == 1
        and stats.by_hour[2] == 1
        and sum(stats.by_hour) == 4
    )
    assert stats.after_hours_share == 0.75


def test_an_empty_shift_has_no_means_and_no_share() -> None:
    stats = shift_stats(WEEK, [], TZ, BUSINESS, SLEEP)
    assert stats.alerts == 0 and stats.mtta is None and stats.after_hours_share is None


def test_compare_gives_each_figure_with_its_change() -> None:
    before = _stats(START - timedelta(days=7), alerts=20, after_hours=10, sleep=3, mtta=600.0, coverage=0.5)
    now = _stats(START, alerts=14, after_hours=10, sleep=5, mtta=300.0, coverage=0.75)
    rows = {c.name: c for c in compare(now, before)}
    assert (rows["Alerts"].now, rows["Alerts"].before, rows["Alerts"].delta) == ("14", "20", "-6")
    assert rows["After hours"].delta == "±0" and rows["Sleep hours"].delta == "+2"
    assert rows["MTTA"].now == "5m 00s" and rows["MTTA"].delta == "-50%"
    assert rows["MTTR"].delta == "n/a"  # neither shift closed anything
    assert rows["Runbook coverage"].delta == "+25 pts"
    assert all(c.before == "n/a" and c.delta == "n/a" for c in compare(now, None))


def test_history_keeps_the_newest_shifts_one_per_window() -> None:
    shifts = [_stats(START - timedelta(days=7 * k)) for k in range(10)]
    history = History().with_shifts(shifts, keep=8)
    assert [s.start for s in history.shifts] == sorted(s.start for s in shifts)[-8:]
    again = history.with_shifts([_stats(START, alerts=99)], keep=8)
    assert len(again.shifts) == 8 and again.get(WEEK) is not None and again.get(WEEK).alerts == 99  # type: ignore[union-attr]
    later = TimeWindow(start=END, end=END + timedelta(days=7))
    assert again.before(later) == again.get(WEEK) and again.before(WEEK) == again.shifts[-2]
    assert again.missing([WEEK, later]) == [later]


def test_a_hand_off_for_an_older_shift_keeps_its_trend_beside_the_newer_ones() -> None:
    """A run by hand for a past week must not store its shifts only to drop them as older than
    the newest eight: its rerun would read their alerts again."""
    newer = [_stats(START + timedelta(days=7 * k)) for k in range(1, 9)]
    older = [_stats(START - timedelta(days=7 * k)) for k in range(0, 8)]
    history = History().with_shifts(newer, keep=8).with_shifts(older, keep=8)
    assert not history.missing([TimeWindow(start=s.start, end=s.end) for s in older])
    assert len(history.shifts) == 8  # the newer ones make room: still one Variable's worth


def test_storage_round_trips_and_fits_the_variable_limit() -> None:
    big = [_stats(START - timedelta(days=7 * k), alerts=10**6, by_hour=(10**6,) * 24) for k in range(40)]
    value = encode(History().with_shifts(big, keep=40))
    assert len(json.dumps(value)) < VARIABLE_LIMIT and value["shifts"]
    kept, bad = decode(json.loads(json.dumps(value)))
    assert bad == 0 and kept.shifts[-1].start == START  # the oldest were dropped, the newest kept
    assert len(kept.shifts) == len(value["shifts"]) < 40


@pytest.mark.parametrize(
    ("raw", "kept", "bad"),
    [
        (None, 0, 0),  # nothing stored yet
        ("not a history", 0, 1),
        ({"version": 99, "shifts": []}, 0, 1),
        ({"version": 1, "shifts": "x"}, 0, 1),
        ({"version": 1, "shifts": [{"start": "yesterday"}]}, 0, 1),
        ({"version": 1, "shifts": [{"alerts": -1}, "x", None]}, 0, 3),
    ],
)
def test_a_malformed_stored_history_is_dropped_never_trusted(raw: object, kept: int, bad: int) -> None:
    history, dropped = decode(raw)
    assert (len(history.shifts), dropped) == (kept, bad)


def test_one_malformed_shift_is_dropped_and_the_good_ones_kept() -> None:
    good = encode(History().with_shifts([_stats(START), _stats(START - timedelta(days=7))], keep=8))
    tampered = {**good, "shifts": [*good["shifts"], {**good["shifts"][0], "by_hour": [1, 2]}]}
    tampered["shifts"].append({**good["shifts"][0], "coverage": 3})
    tampered["shifts"].append({**good["shifts"][0], "start": "2026-11-17T15:00:00"})  # naive
    history, dropped = decode(tampered)
    assert dropped == 3 and len(history.shifts) == 2


def test_variable_names_are_valid_and_distinct() -> None:
    names = {variable_name(s) for s in ("Ops Rota", "ops-rota", "Équipe nuit", "", "x" * 300)}
    assert len(names) == 5
    assert all(re.fullmatch(r"[a-z0-9_-]{1,255}", n) for n in names)


def test_sparkline_scales_from_zero_and_keeps_gaps() -> None:
    assert sparkline([0, 4, 8]) == BLOCKS[0] + BLOCKS[4] + BLOCKS[7]
    assert sparkline([40, 44]) == BLOCKS[6] + BLOCKS[7]  # near-equal values look near-equal
    assert sparkline([0, 0]) == BLOCKS[0] * 2 and sparkline([None, 1]) == " " + BLOCKS[7]
    assert sparkline([]) == ""


def test_mermaid_labels_cannot_break_out_of_the_chart() -> None:
    chart = mermaid_xy('Pages "per" day\n```', ['Mon"]', "Tue\n```", "Wed"], [3, 0, 12.5], y_axis="pages")
    lines = chart.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```" and chart.count("```") == 2
    assert lines[1] == "xychart-beta" and lines[-2] == "  bar [3, 0, 12.5]"
    assert lines[3] == '  x-axis ["Mon", "Tue", "Wed"]' and "0 --> 12.5" in lines[4]
    with pytest.raises(ValueError, match="2 labels for 1 values"):
        mermaid_xy("t", ["a", "b"], [1], y_axis="y")


def test_bar_rows_scale_to_the_busiest_row() -> None:
    rows = bar_rows(["00", "01"], [5, 10], width=10)
    assert rows[2] == "| 00 | 5 | █████ |" and rows[3] == "| 01 | 10 | ██████████ |"
    assert bar_rows(["00"], [0])[2] == "| 00 | 0 |  |"


def test_trend_markdown_shows_sparklines_beside_the_numbers() -> None:
    shifts = [_stats(START - timedelta(days=7)), _stats(START, alerts=20, after_hours=15, sleep=4)]
    lines = trend_markdown(shifts, TZ)
    assert lines[0].startswith("- Alerts: `") and lines[0].endswith("` 10 · 20")
    assert "40% · 75%" in lines[1] and lines[2].endswith("1 · 4")
    assert lines[-1] == "| Nov 17 → Nov 24 | 20 | 15 | 4 | n/a | n/a | n/a |"
    assert trend_markdown([], TZ) == []


def test_the_hand_off_shows_the_trend_once_a_previous_shift_exists() -> None:
    from oncall.handoff import summarize_shift
    from oncall.handoff_render import render_markdown, render_slack
    from oncall.sandbox.slack_fake import blocks_problem
    from tests.factories import context, on_call

    alerts = [alert(at=_ny(18, 10)), alert(at=_ny(19, 2))]
    base = summarize_shift(context(), alerts, [], [], on_call("dana"), on_call("alice"))
    assert "## Compared with the previous shift" not in render_markdown(base)
    now = shift_stats(WEEK, alerts, TZ, BUSINESS, SLEEP)
    alone = base.model_copy(update={"trend": [now]})  # the first shift ever: nothing to compare
    assert render_markdown(alone) == render_markdown(base) and render_slack(alone) == render_slack(base)

    trend = [_stats(START - timedelta(days=7 * k), alerts=5 * k) for k in range(7, 0, -1)] + [now]
    s = base.model_copy(update={"trend": trend})
    md = render_markdown(s)
    assert "| Alerts | 2 | 5 | -3 |" in md and "| Sleep hours | 1 | 1 | ±0 |" in md
    assert "## Last 8 shifts" in md and "35 · 30 · 25 · 20 · 15 · 10 · 5 · 2" in md
    payload = render_slack(s)
    assert blocks_problem(payload["blocks"]) is None
    text = "\n".join(
        b["text"]["text"] for b in payload["blocks"] if b.get("text", {}).get("type") == "mrkdwn"
    )
    assert "*Last 8 shifts*" in text and f"Alerts `{sparkline([t.alerts for t in trend])}` 2 (-3 on" in text
