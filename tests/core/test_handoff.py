from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from oncall.handoff import HandoffSummary, is_escalated, summarize_shift
from oncall.handoff_render import render_markdown
from oncall.models import Alert, Incident, Priority
from tests.factories import END, START, alert, context, incident, on_call

DISK = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ext4 ip-10-7-0-{} integrations/linux_host warning)"
MEM = "[Prometheus]: [FIRING:1] MemoryUsageWarning operations-qa (memory ip-10-1-3-{} integrations/linux_host warning)"


def summarize(
    alerts: Iterable[Alert], open_alerts: Iterable[Alert] = (), incidents: Iterable[Incident] = (), **ctx: Any
) -> HandoffSummary:
    return summarize_shift(
        context(**ctx), list(alerts), list(open_alerts), list(incidents), on_call("dana"), on_call("alice")
    )


def test_kinds_group_across_hosts_and_rank_by_occurrences() -> None:
    alerts = [alert(DISK.format(i), count=1) for i in range(3)] + [alert(MEM.format(1), count=10)]
    s = summarize(alerts)
    assert [(k.kind, k.alerts, k.occurrences) for k in s.kinds] == [
        ("MemoryUsageWarning memory", 1, 10),
        ("DiskUsageWarning xqwatcher filesystem ext4", 3, 3),
    ]
    assert s.alerts == 4 and s.occurrences == 13


def test_only_alerts_created_in_the_window_count() -> None:
    s = summarize([alert(at=START - timedelta(seconds=1)), alert(at=START), alert(at=END)])
    assert s.alerts == 1


def test_after_hours_uses_team_zone() -> None:
    # 14:00 UTC Tuesday is 09:00 New York (business); 13:59 UTC is 08:59 (after hours).
    inside = alert(at=START - timedelta(hours=1) + timedelta(days=1))
    outside = alert(at=START - timedelta(hours=1, minutes=1) + timedelta(days=1))
    s = summarize([inside, outside])
    assert s.after_hours == 1
    assert summarize([inside, outside], timezone="UTC").after_hours == 0


def test_still_open_includes_alerts_older_than_the_shift_and_sorts_by_priority() -> None:
    old = alert(at=START - timedelta(days=3), status="open", priority=Priority.P3)
    fresh = alert(at=START + timedelta(days=2), status="open", priority=Priority.P1)
    closed = alert(at=START + timedelta(days=2), status="closed")
    s = summarize([fresh, closed], open_alerts=[old])
    assert [a.id for a in s.still_open] == [fresh.id, old.id]


def test_mtta_mttr_are_means_over_acknowledged_and_closed() -> None:
    a = alert(ack_after=timedelta(minutes=2), close_after=timedelta(minutes=10))
    b = alert(ack_after=timedelta(minutes=4), close_after=timedelta(minutes=30))
    c = alert(status="open")
    s = summarize([a, b, c])
    assert s.mtta == timedelta(minutes=3)
    assert s.mttr == timedelta(minutes=20)
    assert (s.acknowledged, s.closed) == (2, 2)
    assert summarize([c]).mtta is None


def test_escalation_rules() -> None:
    after = timedelta(minutes=5)
    assert is_escalated(alert(ack_after=timedelta(minutes=6)), after, END)
    assert not is_escalated(alert(ack_after=timedelta(minutes=4)), after, END)
    # A P1 nobody acknowledged for 20 minutes escalated; a P4 auto-resolved did not.
    assert is_escalated(alert(priority=Priority.P1, close_after=timedelta(minutes=20)), after, END)
    assert not is_escalated(alert(priority=Priority.P4, close_after=timedelta(minutes=20)), after, END)
    assert is_escalated(alert(priority=Priority.P2, status="open", at=END - timedelta(minutes=6)), after, END)
    assert not is_escalated(
        alert(priority=Priority.P2, status="open", at=END - timedelta(minutes=4)), after, END
    )


def test_priorities_are_counted_and_incidents_filtered_to_the_shift() -> None:
    alerts = [alert(priority=Priority.P1), alert(priority=Priority.P1), alert(priority=Priority.P4)]
    inside = incident(id="in", created_at=START + timedelta(hours=1), resolved_at=START + timedelta(hours=2))
    before = incident(id="before", created_at=START - timedelta(hours=1))
    s = summarize(alerts, incidents=[inside, before])
    assert s.by_priority == {"P1": 2, "P2": 0, "P3": 0, "P4": 1, "P5": 0}
    assert [i.id for i in s.incidents] == ["in"]
    assert s.incidents[0].duration == timedelta(hours=1)


RUNBOOK = """# Runbook

## Disks

### DiskUsageWarning xqwatcher

_Diagnosis_

Look at `df -h`.

_Mitigation_

Grow the volume.

### MemoryUsageWarning

_Diagnosis_

TODO: write this

### Queue <b>depth</b> | *high* [x](javascript:alert(1))

Nothing yet.
"""


def _with_runbook(alerts: list[Alert]) -> HandoffSummary:
    from oncall.coverage import Matcher
    from oncall.runbook import parse_runbook

    book = parse_runbook(RUNBOOK, url="https://github.com/acme/rb/blob/main/rb.md")
    return summarize_shift(context(), alerts, [], [], on_call("dana"), on_call("alice"), Matcher(book))


def test_the_runbook_column_carries_the_entry_s_quality_flags() -> None:
    s = _with_runbook([alert(DISK.format(1)), alert(MEM.format(1))])
    by_kind = {k.kind.split()[0]: k for k in s.kinds}
    assert by_kind["DiskUsageWarning"].entry_flags == []
    assert by_kind["MemoryUsageWarning"].entry_flags == ["no Mitigation", "stub"]
    md = render_markdown(s)
    # the runbook cell is a short link to the entry (the kind's words stay on screen), then its flags
    mem_row = next(
        line for line in md.splitlines() if line.startswith("|") and "MemoryUsageWarning memory" in line
    )
    assert _cells(mem_row)[-2] == (
        "[entry](https://github.com/acme/rb/blob/main/rb.md#memoryusagewarning) (no Mitigation, stub)"
    )
    disk_row = next(line for line in md.splitlines() if line.startswith("|") and "DiskUsageWarning" in line)
    assert _cells(disk_row)[-2].endswith("#diskusagewarning-xqwatcher)")


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_an_entry_title_in_the_column_is_escaped_with_its_flags() -> None:
    s = _with_runbook([alert("Queue <b>depth</b> | *high* [x](javascript:alert(1))")])
    (kind,) = s.kinds
    assert kind.entry is not None and "<b>" in kind.entry
    md = render_markdown(s)
    row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    *_, runbook, kind_cell = _cells(row)
    assert runbook.startswith("[entry](https://github.com/acme/rb/blob/main/rb.md#queue-depth")
    assert runbook.endswith(" (no Diagnosis, no Mitigation)") or runbook.endswith(
        " (no Diagnosis, no Mitigation, stub)"
    )
    assert "](javascript" not in row.replace("\\](", "")  # an escaped bracket opens no link
    assert "<b>" not in kind_cell.replace("\\<", "") and "\\|" in kind_cell
