from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from oncall.handoff import HandoffSummary, summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import Alert, Incident, Priority
from oncall.sandbox.slack_fake import MAX_SECTION_TEXT, blocks_problem
from tests.factories import START, alert, context, incident, on_call

HOSTILE = (
    "<!channel> @here @alice [click](http://evil.example) <img src=x> `code` *bold* | {{incident.title}} # h"
)


def _word(i: int) -> str:
    """Distinct letter-only names: digits would be normalised away into one kind."""
    return chr(65 + i % 26) + chr(97 + i // 26)


def summary(alerts: list[Alert], incidents: Sequence[Incident] = ()) -> HandoffSummary:
    return summarize_shift(context(), alerts, [], list(incidents), on_call("dana"), on_call("alice"))


def test_markdown_has_every_section_with_numbers() -> None:
    alerts = [alert(priority=Priority.P1, status="open", ack_after=timedelta(minutes=9)), alert()]
    inc = incident(resolved_at=START + timedelta(days=1, minutes=47))
    md = render_markdown(summary(alerts, incidents=[inc]))
    for heading in (
        "# On-call hand-off: Primary",
        "## Summary",
        "## Noisiest alert kinds (1)",
        "## Still open (1)",
        "## Escalated (1)",
        "## Incidents (1)",
    ):
        assert heading in md
    assert "**Outgoing:** dana" in md and "**Incoming:** alice" in md
    assert "MTTA **9m 00s**" in md
    assert "47m 00s" in md
    assert "Tue 2026-11-17 10:00 EST → Tue 2026-11-24 10:00 EST" in md


def test_hostile_alert_text_cannot_ping_or_break_out() -> None:
    s = summary([alert(HOSTILE, status="open")])
    md = render_markdown(s)  # the Prefect UI's markdown: it pings nobody, so @here stays as typed
    assert "<!channel>" not in md and "<img" not in md and "](http://evil" not in md
    assert "@here" in md and "\u200b" not in md
    assert "{{" not in md
    payload = json.dumps(render_slack(s))
    assert "<!channel>" not in payload and "@here" not in payload and "<http" not in payload


def test_slack_payload_fits_limits_and_says_how_many_were_cut() -> None:
    alerts = [alert(f"Alert{_word(i)} " + "x" * 200, status="open", priority=Priority.P2) for i in range(400)]
    payload = render_slack(summary(alerts))
    assert blocks_problem(payload["blocks"]) is None
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section" and "text" in b]
    assert all(len(t) <= MAX_SECTION_TEXT for t in sections)
    kinds = next(t for t in sections if t.startswith("*Noisiest kinds*"))
    shown = kinds.count("\n") - 1
    assert kinds.endswith(f"…and {400 - shown} more")
    assert len(payload["blocks"]) <= 50


def test_empty_shift_renders_plainly() -> None:
    s = summary([])
    md = render_markdown(s)
    assert "Nothing paged during this shift." in md and "Nothing is open." in md
    assert blocks_problem(render_slack(s)["blocks"]) is None


def test_long_markdown_tables_are_cut_with_a_count() -> None:
    alerts = [alert(f"Kind{_word(i)}") for i in range(60)]
    md = render_markdown(summary(alerts))
    assert "…and 35 more kinds." in md


def test_runbook_column_and_coverage_when_a_runbook_is_known() -> None:
    from oncall.coverage import Matcher
    from oncall.runbook import parse_runbook

    book = parse_runbook("## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\n", url="https://gh/rb.md")
    alerts = [alert("[FIRING:1] DiskUsageWarning prod (xqwatcher ip-10-0-0-1)"), alert("VaultAbsent")]
    s = summarize_shift(context(), alerts, [], [], on_call("d"), on_call("a"), Matcher(book))
    md = render_markdown(s)
    assert "Runbook coverage: **50%**" in md
    assert "[DiskUsageWarning xqwatcher](https://gh/rb.md#diskusagewarning-xqwatcher)" in md
    assert "**no runbook**" in md
    slack = json.dumps(render_slack(s))
    assert "runbook coverage 50%" in slack and "no runbook" in slack
    assert "| runbook |" not in render_markdown(summary(alerts))


def test_slack_header_fits_its_limit_after_escaping() -> None:
    s = summarize_shift(context(schedule="@here {{x}} " * 40), [], [], [], on_call("d"), on_call("a"))
    payload = render_slack(s)
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and "@\u200bhere" in header
    assert blocks_problem(payload["blocks"]) is None


def test_markdown_cells_and_slack_lines_fit_their_limits_after_escaping() -> None:
    s = summary([alert("&<>" * 200, status="open", owner="&" * 200)])
    rows = [ln for ln in render_markdown(s).splitlines() if "&amp;" in ln]
    cells = [c for ln in rows for c in ln.strip("|").split(" | ")]
    assert rows and max(len(c.strip()) for c in cells) <= 120  # kinds 120, titles 100, owners 60
    still = next(
        b["text"]["text"]
        for b in render_slack(s)["blocks"]
        if "Still open" in b.get("text", {}).get("text", "")
    )
    line = still.splitlines()[1]
    title, _, rest = line.partition(" · ")
    owner = rest.split(" · ")[1]
    assert len(title) <= 3 + 120 and len(owner) <= 60 and not title.removesuffix("…").endswith("&amp")


def test_coe_values_are_docs_text_without_markdown_escapes_or_zwsp() -> None:
    from oncall.coe import coe_values
    from tests.factories import coe_facts

    facts = coe_facts(incident(message="Paged @ops: *checkout* #12 down {{x}}"))
    assert coe_values(facts)["incident.title"] == "Paged @ops: *checkout* #12 down {\u200b{x}\u200b}"
    long = coe_values(facts.model_copy(update={"incident": incident(message="{" * 5000)}))
    assert len(long["incident.title"]) <= 2000
