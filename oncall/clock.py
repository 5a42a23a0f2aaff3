"""Every pendulum call lives here; the rest of the core takes `now` and zones as parameters.

Rotation boundaries are wall-clock in the schedule's zone (a weekly 10:00 hand-off stays at
10:00 local across DST), so they are computed with pendulum, not with fixed offsets.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pendulum
from pendulum.tz.exceptions import InvalidTimezone
from pydantic import BaseModel, ConfigDict

from oncall.errors import InputError
from oncall.models import Rotation

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def now() -> datetime:
    return datetime.now(UTC)


def zone(name: str) -> pendulum.Timezone:
    """The named IANA zone, or an InputError that says what a valid name looks like."""
    try:
        return pendulum.timezone(name)
    except (InvalidTimezone, ValueError) as exc:
        raise InputError(f"time zone {name!r} is not an IANA zone name such as 'America/New_York'") from exc


def parse_instant(text: str, tz: str) -> datetime:
    """ISO-8601 (a bare local time is read in `tz`) or `now`, returned in UTC."""
    if text.strip().lower() == "now":
        return now()
    try:
        parsed = pendulum.parse(text, tz=zone(tz))
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise InputError(f"{text!r} is not an ISO-8601 time such as 2026-11-24T10:00 or 'now'") from exc
    if not isinstance(parsed, pendulum.DateTime):
        raise InputError(f"{text!r} is a date or duration, not a point in time")
    return _utc(parsed)


def parse_start(text: str, end: datetime, tz: str) -> datetime:
    """A shift start: an ISO time, or a span back from the end such as `-24h`, `-1d`, `-90m`."""
    m = re.fullmatch(r"\s*-\s*(\d+)\s*([mhdw])\s*", text)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return end - timedelta(**{unit: int(m.group(1))})
    if text.strip().startswith("-"):
        raise InputError(f"{text!r} is not a span back from the end such as -24h (units m, h, d, w)")
    return parse_instant(text, tz)


def _utc(dt: datetime) -> datetime:
    return datetime.fromtimestamp(dt.timestamp(), UTC).replace(microsecond=dt.microsecond)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def epoch_ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def local(dt: datetime, tz: str) -> pendulum.DateTime:
    return pendulum.instance(dt).in_timezone(zone(tz))


def fmt_local(dt: datetime, tz: str) -> str:
    """`Tue 2026-11-24 10:00 EST`: short, unambiguous, in the team's zone."""
    return local(dt, tz).format("ddd YYYY-MM-DD HH:mm zz")


def fmt_duration(td: timedelta | None) -> str:
    if td is None:
        return "n/a"
    total = int(td.total_seconds())
    if total < 0:
        total = 0
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _step(start: pendulum.DateTime, rotation: Rotation, k: int) -> pendulum.DateTime:
    n = k * rotation.length
    if rotation.unit == "hourly":
        return start.add(hours=n)
    if rotation.unit == "daily":
        return start.add(days=n)
    return start.add(weeks=n)


_NOMINAL = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0}


def previous_boundary(rotations: tuple[Rotation, ...], before: datetime, tz: str) -> datetime | None:
    """The latest hand-off (any rotation's turn change) strictly before `before`.

    Rotation starts are stepped in the schedule's zone, so DST shifts never move a hand-off
    off its wall-clock time. None when no rotation had started yet.
    """
    best: datetime | None = None
    for rotation in rotations:
        start = local(rotation.start, tz)
        if rotation.start >= before:
            continue
        period = _NOMINAL[rotation.unit] * rotation.length
        k = max(0, int((before - rotation.start).total_seconds() // period))
        # Nominal periods drift by an hour across DST; settle k on the exact wall-clock grid.
        while k > 0 and _step(start, rotation, k) >= before:
            k -= 1
        while _step(start, rotation, k + 1) < before:
            k += 1
        boundary = _utc(_step(start, rotation, k))
        if rotation.end is not None and boundary >= rotation.end:
            continue
        if best is None or boundary > best:
            best = boundary
    return best


def last_boundary(rotations: tuple[Rotation, ...], at: datetime, tz: str) -> datetime | None:
    """The latest hand-off at or before `at`: where the last shift that has finished ended.

    A hand-off report run by hand ends here, so every run during a shift names the same shift
    (and never an empty one still in progress). None when no rotation had started yet.
    """
    return previous_boundary(rotations, at + timedelta(microseconds=1), tz)


_SPAN = re.compile(r"(\d{1,2}):([0-5]\d)\s*-\s*(\d{1,2}):([0-5]\d)")


def _span(text: str) -> tuple[int, int] | None:
    """`HH:MM-HH:MM` as minutes of the day (each checked by its caller), or None for another shape."""
    m = _SPAN.fullmatch(text.strip())
    if m is None:
        return None
    return int(m.group(1)) * 60 + int(m.group(2)), int(m.group(3)) * 60 + int(m.group(4))


def _local_minute(dt: datetime, tz: str) -> tuple[datetime, int]:
    """`dt` in `tz`, and its minute of the day there. The standard library's conversion gives the
    same wall time as `local` at a thirtieth of its cost, and the hand-off asks this twice for
    every alert of the shift."""
    t = dt.astimezone(zone(tz))
    return t, t.hour * 60 + t.minute


class BusinessHours(BaseModel):
    """Working days and hours in the team's zone, e.g. `Mon-Fri 09:00-17:00`."""

    model_config = ConfigDict(frozen=True)

    days: frozenset[int]  # 0 = Monday
    start_minute: int
    end_minute: int

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        m = re.fullmatch(r"\s*([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(.*)", text)
        span = _span(m.group(3)) if m else None
        if (
            not m
            or span is None
            or m.group(1).lower() not in _DAYS
            or (m.group(2) or m.group(1)).lower() not in _DAYS
        ):
            raise InputError(f"business hours {text!r} should look like 'Mon-Fri 09:00-17:00'")
        first = _DAYS.index(m.group(1).lower())
        last = _DAYS.index((m.group(2) or m.group(1)).lower())
        days = {(first + i) % 7 for i in range((last - first) % 7 + 1)}
        start, end = span
        if not (0 <= start < end <= 24 * 60):
            raise InputError(f"business hours {text!r}: the start must be before the end, within one day")
        return cls(days=frozenset(days), start_minute=start, end_minute=end)

    def contains(self, dt: datetime, tz: str) -> bool:
        t, minute = _local_minute(dt, tz)
        return t.weekday() in self.days and self.start_minute <= minute < self.end_minute


class SleepHours(BaseModel):
    """The team's night in its zone, e.g. `22:00-07:00`: it may wrap past midnight, and a page in
    it woke someone. Separate from business hours, since "after hours" and "asleep" call for
    different fixes (a page at 19:00 interrupts dinner; one at 03:00 costs the next day)."""

    model_config = ConfigDict(frozen=True)

    start_minute: int
    end_minute: int

    @classmethod
    def parse(cls, text: str) -> SleepHours:
        span = _span(text)
        if span is None:
            raise InputError(f"sleep hours {text!r} should look like '22:00-07:00'")
        start, end = span
        if not (start < 24 * 60 and end <= 24 * 60) or start == end:
            raise InputError(f"sleep hours {text!r}: two different times of day, HH:MM-HH:MM")
        return cls(start_minute=start, end_minute=end)

    @property
    def _wraps(self) -> bool:
        return self.start_minute > self.end_minute

    def contains(self, dt: datetime, tz: str) -> bool:
        _, minute = _local_minute(dt, tz)
        if self._wraps:
            return minute >= self.start_minute or minute < self.end_minute
        return self.start_minute <= minute < self.end_minute

    def night_of(self, dt: datetime, tz: str) -> date:
        """The local date the night containing `dt` began on: 02:00 on the 5th is the night of the 4th."""
        t, minute = _local_minute(dt, tz)
        return (t - timedelta(days=1)).date() if self._wraps and minute < self.end_minute else t.date()


Interruption = Literal["business", "off", "sleep"]


def interruption(dt: datetime, tz: str, business: BusinessHours, sleep: SleepHours) -> Interruption:
    """Which part of the engineer's day a page at `dt` landed in; sleep wins over business hours
    where a team's settings overlap them."""
    if sleep.contains(dt, tz):
        return "sleep"
    return "business" if business.contains(dt, tz) else "off"
