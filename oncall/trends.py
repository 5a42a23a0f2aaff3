"""A shift in a few numbers, kept once, so the hand-off compares shifts without reading old windows.

Each shift's figures are computed when its hand-off runs and stored with the schedule's last
shifts in one Prefect Variable (`variable_name`): a trend then costs one read, not eight windows
of alerts. What comes back from storage is untrusted: a shift that does not validate is dropped
and recomputed from its window, never shown. A Variable holds at most 5,000 characters of JSON
(Prefect's MAX_VARIABLE_VALUE_LENGTH), so `encode` drops the oldest shifts until it fits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, Field, ValidationError

from oncall.charts import sparkline
from oncall.clock import BusinessHours, SleepHours, fmt_duration, interruption, local, zone
from oncall.models import Alert, Frozen, TimeWindow

VERSION = 1
VARIABLE_LIMIT = 5_000  # prefect.types.MAX_VARIABLE_VALUE_LENGTH, in characters of JSON


class ShiftStats(Frozen):
    start: AwareDatetime
    end: AwareDatetime
    alerts: int = Field(ge=0)
    after_hours: int = Field(ge=0)  # outside business hours, as the hand-off counts them
    sleep: int = Field(ge=0)  # in the team's sleep hours (a part of after hours)
    mtta: float | None = Field(default=None, ge=0)  # seconds
    mttr: float | None = Field(default=None, ge=0)
    coverage: float | None = Field(default=None, ge=0, le=1)  # runbook coverage of the shift's kinds
    by_hour: tuple[int, ...] = Field(default=(0,) * 24, min_length=24, max_length=24)  # local hour

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(start=self.start, end=self.end)

    @property
    def after_hours_share(self) -> float | None:
        return self.after_hours / self.alerts if self.alerts else None


def _mean_seconds(values: Iterable[timedelta | None]) -> float | None:
    seconds = [v.total_seconds() for v in values if v is not None]
    return sum(seconds) / len(seconds) if seconds else None


def shift_stats(
    window: TimeWindow,
    alerts: Sequence[Alert],
    tz: str,
    business: BusinessHours,
    sleep: SleepHours,
    coverage: float | None = None,
) -> ShiftStats:
    """The figures of the alerts created in `window` (others are ignored, as the hand-off does)."""
    mine = [a for a in alerts if window.contains(a.created_at)]
    parts = [interruption(a.created_at, tz, business, sleep) for a in mine]
    by_hour, here = [0] * 24, zone(tz)
    for a in mine:
        by_hour[a.created_at.astimezone(here).hour] += 1
    return ShiftStats(
        start=window.start,
        end=window.end,
        alerts=len(mine),
        after_hours=sum(p != "business" for p in parts),
        sleep=parts.count("sleep"),
        mtta=_mean_seconds(a.ack_after for a in mine),
        mttr=_mean_seconds(a.close_after for a in mine),
        coverage=coverage,
        by_hour=tuple(by_hour),
    )


class Change(Frozen):
    """One figure of this shift beside the previous one's, as a person reads it."""

    name: str
    now: str
    before: str
    delta: str  # "+3", "-12%", "±0", or "n/a"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def _secs(v: float | None) -> str:
    return fmt_duration(None if v is None else timedelta(seconds=v))


def _delta(now: float | None, before: float | None, kind: Literal["count", "time", "share"]) -> str:
    if now is None or before is None:
        return "n/a"
    diff = now - before
    if kind == "count":
        return f"{diff:+.0f}" if diff else "±0"
    if kind == "share":
        points = round(diff * 100)
        return f"{points:+d} pts" if points else "±0"
    if not before:
        return "n/a"
    pct = round(diff / before * 100)
    return f"{pct:+d}%" if pct else "±0"


def compare(now: ShiftStats, before: ShiftStats | None) -> list[Change]:
    """Alerts, after-hours and sleep-hours pages, MTTA, MTTR and coverage, each with its change."""
    rows: list[tuple[str, str, Literal["count", "time", "share"]]] = [
        ("Alerts", "alerts", "count"),
        ("After hours", "after_hours", "count"),
        ("Sleep hours", "sleep", "count"),
        ("MTTA", "mtta", "time"),
        ("MTTR", "mttr", "time"),
        ("Runbook coverage", "coverage", "share"),
    ]
    show = {"count": lambda v: "n/a" if v is None else f"{v:.0f}", "time": _secs, "share": _pct}
    out = []
    for name, field, kind in rows:
        n: float | None = getattr(now, field)
        p: float | None = None if before is None else getattr(before, field)
        out.append(
            Change(
                name=name,
                now=show[kind](n),
                before="n/a" if before is None else show[kind](p),
                delta=_delta(n, p, kind),
            )
        )
    return out


class History(Frozen):
    """A schedule's stored shifts, oldest first, one per window."""

    shifts: tuple[ShiftStats, ...] = ()

    def get(self, window: TimeWindow) -> ShiftStats | None:
        return next((s for s in self.shifts if s.start == window.start and s.end == window.end), None)

    def missing(self, windows: Iterable[TimeWindow]) -> list[TimeWindow]:
        """The windows with no stored shift: computed once, then stored."""
        return [w for w in windows if self.get(w) is None]

    def with_shifts(self, shifts: Iterable[ShiftStats], keep: int) -> History:
        """These shifts added (a shift of the same window replaced), then the newest others up
        to `keep` in all. The added ones always stay: a hand-off run by hand for a past week
        keeps its own trend, or its rerun would read those weeks' alerts again."""
        added = {(s.start, s.end): s for s in sorted(shifts, key=lambda s: s.start)[-keep:]}
        others = sorted((s for s in self.shifts if (s.start, s.end) not in added), key=lambda s: s.start)
        kept = [*added.values(), *others[len(others) - max(0, keep - len(added)) :]]
        return History(shifts=tuple(sorted(kept, key=lambda s: s.start)))

    def before(self, window: TimeWindow) -> ShiftStats | None:
        """The newest stored shift that ended by `window`'s start: the one to compare with."""
        return next((s for s in reversed(self.shifts) if s.end <= window.start), None)


def past_windows(window: TimeWindow, count: int) -> list[TimeWindow]:
    """The `count` shifts before `window`, oldest first, each as long as it: a weekly hand-off's
    previous weeks, a business-day summary's previous days."""
    return [
        TimeWindow(start=window.start - window.length * k, end=window.start - window.length * (k - 1))
        for k in range(count, 0, -1)
    ]


def history_key(schedule: str, window: TimeWindow) -> str:
    """One history per schedule and shift length: the weekly hand-off and the business-day
    summary of one schedule keep their own trends."""
    return variable_name(f"{schedule}/{int(window.length.total_seconds())}s")


def encode(history: History) -> dict[str, Any]:
    """The Variable's value: versioned, the oldest shifts dropped until it fits Prefect's limit."""
    shifts = list(history.shifts)
    while True:
        value = {"version": VERSION, "shifts": [s.model_dump(mode="json") for s in shifts]}
        if len(json.dumps(value)) < VARIABLE_LIMIT or not shifts:
            return value
        shifts.pop(0)


def decode(raw: object) -> tuple[History, int]:
    """The stored history, and how many stored shifts were malformed and dropped (to recompute).

    Another version, or a value that is not a history at all, is dropped whole."""
    if not isinstance(raw, dict) or raw.get("version") != VERSION or not isinstance(raw.get("shifts"), list):
        return History(), 0 if raw is None else 1
    good, bad = [], 0
    for item in raw["shifts"]:
        try:
            good.append(ShiftStats.model_validate(item))
        except ValidationError:
            bad += 1
    return History().with_shifts(good, keep=len(good) or 1), bad


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def variable_name(schedule: str) -> str:
    """A Prefect Variable name (lowercase letters, digits, dashes, underscores) for the schedule;
    the hash keeps "Ops Rota" and "ops-rota" apart."""
    slug = _NOT_NAME.sub("-", schedule.lower()).strip("-")[:60] or "schedule"
    return f"oncall-trend-{slug}-{hashlib.sha256(schedule.encode()).hexdigest()[:8]}"


def _when(dt: datetime, tz: str) -> str:
    return local(dt, tz).format("MMM D")


def trend_markdown(shifts: Sequence[ShiftStats], tz: str) -> list[str]:
    """The last shifts as sparklines with their numbers, then a table: read in Slack or the UI."""
    if not shifts:
        return []
    share = [s.after_hours_share for s in shifts]
    lines = [
        f"- Alerts: `{sparkline([s.alerts for s in shifts])}` {' · '.join(str(s.alerts) for s in shifts)}",
        f"- After-hours share: `{sparkline(share)}` {' · '.join(_pct(v) for v in share)}",
        f"- Sleep-hours pages: `{sparkline([s.sleep for s in shifts])}` "
        f"{' · '.join(str(s.sleep) for s in shifts)}",
        "",
        "| Shift | Alerts | After hours | Sleep hours | MTTA | MTTR | Coverage |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {_when(s.start, tz)} → {_when(s.end, tz)} | {s.alerts} | {s.after_hours} | {s.sleep} | "
        f"{_secs(s.mtta)} | {_secs(s.mttr)} | {_pct(s.coverage)} |"
        for s in shifts
    ]
    return lines
