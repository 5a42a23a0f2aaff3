from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.clock import (
    BusinessHours,
    fmt_duration,
    fmt_local,
    last_boundary,
    parse_instant,
    parse_start,
    previous_boundary,
)
from oncall.errors import InputError
from oncall.models import Rotation

NY = "America/New_York"


def weekly(start: str, **kw: object) -> Rotation:
    return Rotation(name="r", start=parse_instant(start, NY), unit="weekly", **kw)  # type: ignore[arg-type]


def test_weekly_boundary_keeps_wall_clock_across_fall_back() -> None:
    # DST ends 2026-11-01: the Tuesday 10:00 hand-off moves from 14:00 UTC to 15:00 UTC.
    rot = weekly("2026-09-01T10:00")
    before = previous_boundary((rot,), parse_instant("2026-10-30T12:00", NY), NY)
    after = previous_boundary((rot,), parse_instant("2026-11-05T12:00", NY), NY)
    assert before == datetime(2026, 10, 27, 14, 0, tzinfo=UTC)
    assert after == datetime(2026, 11, 3, 15, 0, tzinfo=UTC)
    assert fmt_local(after, NY) == "Tue 2026-11-03 10:00 EST"


def test_weekly_boundary_across_spring_forward() -> None:
    rot = weekly("2026-01-06T10:00")  # a Tuesday; DST starts 2026-03-08
    got = previous_boundary((rot,), parse_instant("2026-03-12T09:00", NY), NY)
    assert got == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 EDT


def test_boundary_is_strictly_before_the_end() -> None:
    rot = weekly("2026-09-01T10:00")
    end = parse_instant("2026-11-24T10:00", NY)
    assert previous_boundary((rot,), end, NY) == end - timedelta(weeks=1)


def test_daily_and_multi_week_rotations_and_latest_wins() -> None:
    daily = Rotation(name="d", start=parse_instant("2026-11-01T09:00", NY), unit="daily")
    biweekly = weekly("2026-09-01T10:00", length=2)
    end = parse_instant("2026-11-20T08:00", NY)
    assert previous_boundary((biweekly,), end, NY) == parse_instant("2026-11-10T10:00", NY)
    assert previous_boundary((biweekly, daily), end, NY) == parse_instant("2026-11-19T09:00", NY)


def test_hourly_rotation_and_rotation_not_started_or_ended() -> None:
    hourly = Rotation(name="h", start=parse_instant("2026-11-01T00:00", NY), unit="hourly", length=8)
    assert previous_boundary((hourly,), parse_instant("2026-11-02T07:30", NY), NY) is not None
    future = weekly("2027-01-05T10:00")
    assert previous_boundary((future,), parse_instant("2026-11-24T10:00", NY), NY) is None
    ended = weekly("2026-09-01T10:00", end=parse_instant("2026-09-20T00:00", NY))
    assert previous_boundary((ended,), parse_instant("2026-11-24T10:00", NY), NY) is None


def test_parse_instant_reads_local_time_and_rejects_junk() -> None:
    assert parse_instant("2026-11-24T10:00", NY) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert parse_instant("2026-11-24T10:00+00:00", NY) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="ISO-8601"):
        parse_instant("next tuesday", NY)
    with pytest.raises(InputError, match="IANA"):
        parse_instant("2026-11-24T10:00", "Mars/Olympus")


def test_business_hours() -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00")
    assert hours.contains(parse_instant("2026-11-24T09:00", NY), NY)
    assert not hours.contains(parse_instant("2026-11-24T17:00", NY), NY)
    assert not hours.contains(parse_instant("2026-11-22T12:00", NY), NY)  # Sunday
    wrap = BusinessHours.parse("Sun-Thu 08:00-16:00")
    assert wrap.contains(parse_instant("2026-11-22T12:00", NY), NY)
    for bad in ("weekdays", "Mon-Fri 17:00-09:00", "Mon-Xyz 09:00-17:00"):
        with pytest.raises(InputError, match="business hours"):
            BusinessHours.parse(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "n/a"),
        (0, "0s"),
        (59, "59s"),
        (61, "1m 01s"),
        (3600 + 300, "1h 05m"),
        (2 * 86400 + 3600, "2d 1h"),
    ],
)
def test_fmt_duration(seconds: int | None, text: str) -> None:
    assert fmt_duration(None if seconds is None else timedelta(seconds=seconds)) == text


def test_parse_start_accepts_spans_back_from_the_end() -> None:
    end = parse_instant("2026-11-24T09:00", NY)
    assert parse_start("-24h", end, NY) == end - timedelta(hours=24)
    assert parse_start("-1w", end, NY) == end - timedelta(weeks=1)
    assert parse_start("2026-11-23T09:00", end, NY) == end - timedelta(days=1)
    with pytest.raises(InputError, match=r"span back from the end such as -24h \(units m, h, d, w\)"):
        parse_start("-24x", end, NY)


def test_last_boundary_is_the_end_of_the_last_finished_shift() -> None:
    rot = weekly("2026-09-01T10:00")
    handoff = parse_instant("2026-11-24T10:00", NY)
    assert last_boundary((rot,), handoff, NY) == handoff  # a shift ending now has finished
    assert last_boundary((rot,), handoff + timedelta(microseconds=1), NY) == handoff
    assert last_boundary((rot,), handoff - timedelta(microseconds=1), NY) == handoff - timedelta(weeks=1)
    assert last_boundary((weekly("2027-01-05T10:00"),), handoff, NY) is None


# --- sleep hours ----------------------------------------------------------------------------------


def test_sleep_hours_wrap_midnight_and_name_the_night_they_began() -> None:
    from oncall.clock import SleepHours

    night = SleepHours.parse("22:00-07:00")
    tz = "America/New_York"  # 03:00 UTC on the 5th is 22:00 EST on the 4th
    at = datetime(2026, 11, 5, 3, 0, tzinfo=UTC)
    assert night.contains(at, tz) and night.night_of(at, tz).isoformat() == "2026-11-04"
    early = datetime(2026, 11, 5, 11, 59, tzinfo=UTC)  # 06:59 EST: still the night of the 4th
    assert night.contains(early, tz) and night.night_of(early, tz).isoformat() == "2026-11-04"
    assert not night.contains(datetime(2026, 11, 5, 12, 0, tzinfo=UTC), tz)  # 07:00 EST: morning
    same_day = SleepHours.parse("01:00-05:00")
    assert same_day.contains(datetime(2026, 11, 5, 7, 0, tzinfo=UTC), tz)  # 02:00 EST
    assert not same_day.contains(datetime(2026, 11, 5, 4, 0, tzinfo=UTC), tz)  # 23:00 EST


@pytest.mark.parametrize("text", ["22-07", "22:00-22:00", "25:00-07:00", "22:00-07:61", ""])
def test_sleep_hours_refuse_what_is_not_two_times(text: str) -> None:
    from oncall.clock import SleepHours

    with pytest.raises(InputError, match="sleep hours"):
        SleepHours.parse(text)


def test_a_page_is_business_off_or_sleep_and_sleep_wins_an_overlap() -> None:
    from oncall.clock import BusinessHours, SleepHours, interruption

    tz = "UTC"
    hours = BusinessHours.parse("Mon-Fri 09:00-17:00")
    night = SleepHours.parse("22:00-07:00")
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    assert interruption(monday.replace(hour=10), tz, hours, night) == "business"
    assert interruption(monday.replace(hour=19), tz, hours, night) == "off"
    assert interruption(monday.replace(hour=3), tz, hours, night) == "sleep"
    assert interruption(monday.replace(hour=10), tz, hours, SleepHours.parse("08:00-11:00")) == "sleep"


@pytest.mark.parametrize("text", ["Mon-Fri 09:75-17:00", "Mon-Fri 09:00-17:60"])
def test_business_hours_refuse_a_minute_past_59(text: str) -> None:
    # 09:75 once read as 10:15: the same span parser as the sleep hours now refuses it
    with pytest.raises(InputError, match="business hours"):
        BusinessHours.parse(text)
