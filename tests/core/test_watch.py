"""incident-watch's window start, decided from the stored watermark (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.watch import RECOVERY_LOOKBACK, watch_start

UNTIL = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_watermark_in_the_past_is_where_the_window_starts() -> None:
    start = watch_start((UNTIL - 3 * HOUR).isoformat(), UNTIL, HOUR)
    assert start.since == UNTIL - 3 * HOUR and start.problem is None


def test_no_watermark_looks_back_the_first_run_span() -> None:
    assert watch_start(None, UNTIL, HOUR).since == UNTIL - HOUR
    assert watch_start(None, UNTIL, HOUR).problem is None


@pytest.mark.parametrize(
    ("stored", "says"),
    [
        ((UNTIL + timedelta(days=400)).isoformat(), "not before now"),  # a clock that jumped ahead
        (UNTIL.isoformat(), "not before now"),  # no window at all
        ("2099-01-01T00:00:00", "not before now"),  # a hand edit, naive: read as UTC
        ("yesterday", "not an ISO-8601 time"),
        (12345, "not an ISO-8601 time"),  # a Variable can hold any JSON
    ],
)
def test_a_watermark_not_in_the_past_is_refused_and_the_recovery_span_covers_the_gap(
    stored: object, says: str
) -> None:
    start = watch_start(stored, UNTIL, HOUR)
    assert start.problem is not None and says in start.problem
    assert start.since == UNTIL - RECOVERY_LOOKBACK
    # A longer first-run span is a longer recovery too (by hand: lookback_minutes=...).
    assert watch_start(stored, UNTIL, timedelta(days=30)).since == UNTIL - timedelta(days=30)


def test_both_emitters_carry_an_id_with_dots_whole() -> None:
    """incident-watch emits `c.resource`; the relay posts `event_body(c)`: one resource."""
    from deployments.relay import event_body
    from oncall.watch import ID_LABEL, CoeCandidate

    c = CoeCandidate(
        incident_id="inc.7f3a.01", kind="incident", title="x", priority="P1", duration_minutes=47
    )
    assert c.resource[ID_LABEL] == "inc.7f3a.01" and c.resource["prefect.resource.id"].endswith(
        ".inc.7f3a.01"
    )
    [posted] = event_body(c, UNTIL)
    assert posted["resource"] == c.resource and posted["payload"]["incident_id"] == "inc.7f3a.01"
