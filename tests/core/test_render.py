from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from oncall import escape
from oncall.handoff import HandoffSummary, summarize_shift
from oncall.handoff_render import render_markdown, render_slack
from oncall.models import Alert, Incident, Priority
from oncall.sandbox.slack_fake import MAX_SECTION_TEXT, blocks_problem
from tests.factories import END, START, alert, context, incident, on_call

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
    assert not re.search(r"(?<!\\)<", md)  # every `<` escaped: no HTML token forms
    assert "](http://evil" not in md and not MARKED_URL.search(md.replace("](https://", ""))
    assert "@here" in md and "\u200b" not in md
    # `{{incident.title}}` stays as typed: the UI renders tokens' text as text, with no template
    # step (the browser test shows it), and COE placeholders are filled elsewhere
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
    assert "| [entry](https://gh/rb.md#diskusagewarning-xqwatcher) (no Mitigation) | DiskUsageWarning" in md
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
    s = summary([alert("&<>" * 200, status="open", owner="&" * 200, tiny_id="42")])
    rows = [ln for ln in render_markdown(s).splitlines() if "\\&" in ln]
    cells = [c for ln in rows for c in ln.strip("|").split(" | ")]
    assert rows and max(len(c.strip()) for c in cells) <= 120  # kinds 120, titles 100, owners 60
    assert not any(c.strip().removesuffix("…").endswith("\\") for c in cells)  # no escape cut in two
    still = next(
        b["text"]["text"]
        for b in render_slack(s)["blocks"]
        if "Still open" in b.get("text", {}).get("text", "")
    )
    line = still.splitlines()[1]
    line = line.partition(" #42 ")[2]  # after the priority and the alert's number (it has no URL)
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


# -- the Prefect UI's markdown (marked, read by prefect-design's PMarkdownRenderer) ----------

# What the UI shows for a text or escape token: marked's backslash escapes (ASCII punctuation)
# read, then the five entities its renderer decodes (prefect-design's unescape).
_MARKED_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# marked 5's GFM autolink rules, as the UI bundle holds them (test_the_ui_bundle_reads_... pins them).
MARKED_URL = re.compile(r"((?:ftp|https?):\/\/|www\.)(?:[a-zA-Z0-9\-]+\.?)+[^\s<]*", re.I)
MARKED_EMAIL = re.compile(r"[A-Za-z0-9._+-]+(@)[a-zA-Z0-9-_]+(?:\.[a-zA-Z0-9-_]*[a-zA-Z0-9])+(?![-_])")


def shown(out: str) -> str:
    return _MARKED_ESCAPE.sub(r"\1", out)


def _ui_bundle() -> str:
    spec = importlib.util.find_spec("prefect")  # found, not imported: importing costs seconds
    assert spec is not None and spec.origin is not None
    assets = Path(spec.origin).parent / "server" / "ui" / "assets"
    return "".join(p.read_text(encoding="utf-8") for p in sorted(assets.glob("index-*.js")))


def _marked_worker(bundle: str) -> str:
    """The UI's markdown worker (marked, and the call that lexes an artifact), which the bundle
    holds as a JavaScript string literal."""
    end = bundle.index("self.onmessage=me})();")
    start = bundle.rindex('=\'(function(){"use strict";', 0, end) + 1
    close = bundle.index("'", end)
    return str(ast.literal_eval(bundle[start : close + 1]))


def test_the_ui_bundle_reads_markdown_as_the_escaper_assumes() -> None:
    """The escaper follows what the installed UI does; a Prefect upgrade that changes it fails here."""
    bundle = _ui_bundle()
    worker = _marked_worker(bundle)
    assert "markedjs/marked" in worker
    assert "const de={gfm:!0,breaks:!0},ke=o=>p.lexer(o,de)" in worker  # marked's lexer, GFM
    assert r"url:/^((?:ftp|https?):\/\/|www\.)(?:[a-zA-Z0-9\-]+\.?)+[^\s<]*|^email/" in worker
    assert r"email:/[A-Za-z0-9._+-]+(@)[a-zA-Z0-9-_]+(?:\.[a-zA-Z0-9-_]*[a-zA-Z0-9])+(?![-_])/" in worker
    # the renderer: a link shows its raw label (e.text), not its tokens, so a backslash in it
    # stays visible; an html token becomes HTML
    assert "rel:`noopener`,target:t.startsWith(`#`)?`_self`:`_blank`},{default:()=>e.text})" in bundle
    assert "if(VAe(e)){let{text:t}=e;return Wo(Ab,{html:t" in bundle
    # text and escape tokens are shown with only these entities decoded
    assert (
        'function f_(e){return e.replace(/&lt;/g,`<`).replace(/&gt;/g,`>`).replace(/&quot;/g,`"`)'
        ".replace(/&#39;/g,`'`).replace(/&amp;/g,`&`)}" in bundle
    )


def test_prefect_ui_text_escapes_only_marked_syntax() -> None:
    out = escape.prefect_md("Zoë@ops #12 <b>[x](y) *a* _b_ `c` ~d~ | & \\ ok", 200)
    assert out == "Zoë@ops #12 \\<b>\\[x\\](y) \\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\| \\& \\\\ ok"
    assert shown(out) == "Zoë@ops #12 <b>[x](y) *a* _b_ `c` ~d~ | & \\ ok"  # shown as typed


def test_prefect_ui_text_makes_no_autolink() -> None:
    out = escape.prefect_md("see http://evil.example, HTTPS://x.io, www.evil.com and mail bob@evil.com", 200)
    assert out == ("see http\\://evil.example, HTTPS\\://x.io, www\\.evil.com and mail bob\\@evil.com")
    assert not MARKED_URL.search(out) and not MARKED_EMAIL.search(out)
    assert escape.prefect_md("@here ping", 50) == "@here ping"  # no mention in the UI, no mail link


def test_prefect_ui_text_keeps_a_heading_s_closing_hash() -> None:
    assert escape.prefect_md("Ops #", 50) == "Ops \\#"
    assert escape.prefect_md("#1 and #2 here", 50) == "#1 and #2 here"


def test_a_prefect_link_label_shows_as_written() -> None:
    assert (
        escape.prefect_link("#1101", "https://ops.example/alert/1101")
        == "[#1101](https://ops.example/alert/1101)"
    )
    assert escape.prefect_link("Vault_Sealed *x* &amp;", "https://rb.example/r.md#vault") == (
        "[Vault_Sealed *x* &amp;](https://rb.example/r.md#vault)"
    )
    # what could end, nest or split the label becomes a look-alike; the URL cannot end early
    assert escape.prefect_link("a](http://evil)[b|c\\`", "https://x.example/a b)c") == (
        "[a)(http://evil)(b¦c∖'](https://x.example/a%20b%29c)"
    )
    # a URL that is not http(s) is no link: the label is text
    assert escape.prefect_link("#1", "javascript:alert(1)") == "#1"
    assert escape.prefect_link("x_y", None) == "x\\_y"


# -- readable artifacts: key columns first, short link texts, long titles last ---------------


def _header(md: str, section: str) -> list[str]:
    """The header cells of the first table under `## section`."""
    part = md.split(f"## {section}", 1)[1]
    line = next(ln for ln in part.splitlines() if ln.startswith("| "))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _shift_with_everything() -> HandoffSummary:
    from oncall.coverage import Matcher
    from oncall.runbook import parse_runbook

    book = parse_runbook("## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\n", url="https://gh/rb.md")
    opened = alert(
        "[FIRING:1] DiskUsageWarning prod (xqwatcher ip-10-0-0-1) " + "long words " * 10,
        status="open",
        priority=Priority.P1,
        owner="dana",
        url="https://ops.example/alert/1101",
        tiny_id="1101",
    )
    inc = incident(url="https://ops.example/incident/7", tiny_id="7", resolved_at=START + timedelta(days=2))
    return summarize_shift(
        context(),
        [opened, alert("VaultAbsent", tiny_id="1102")],
        [],
        [inc],
        on_call("d"),
        on_call("a"),
        Matcher(book),
    )


def test_each_table_puts_its_key_columns_first_and_the_long_text_last() -> None:
    md = render_markdown(_shift_with_everything())
    kinds = _header(md, "Noisiest alert kinds")
    assert kinds[:2] == ["alerts", "occurrences"] and kinds[-1] == "kind" and "#" not in kinds
    still = _header(md, "Still open")
    assert still[:2] == ["age", "owner"] and still[-1] == "title"
    escalated = _header(md, "Escalated")
    assert escalated[:2] == ["age", "owner"] and escalated[-1] == "title"
    incidents = _header(md, "Incidents")
    assert incidents[:2] == ["duration", "status"] and incidents[-1] == "title"


def test_alert_links_show_their_number_with_no_backslash() -> None:
    md = render_markdown(_shift_with_everything())
    assert "[#1101](https://ops.example/alert/1101)" in md
    assert "[#7](https://ops.example/incident/7)" in md
    assert "\\#" not in md and "[\\" not in md
    assert "| not acked |" in md or " not acked " in md  # the escalated P1 nobody acknowledged


def test_coverage_over_no_kinds_reads_n_a() -> None:
    from oncall.coverage import Matcher
    from oncall.runbook import parse_runbook

    book = parse_runbook("## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\n", url="https://gh/rb.md")
    s = summarize_shift(context(), [], [], [], on_call("d"), on_call("a"), Matcher(book))
    md = render_markdown(s)
    assert "Runbook coverage: **n/a** (nothing paged)" in md and "100%" not in md
    slack = json.dumps(render_slack(s))
    assert "runbook coverage n/a" in slack and "100%" not in slack


def test_slack_links_each_alert_to_its_source_and_says_not_acked() -> None:
    blocks = render_slack(_shift_with_everything())["blocks"]
    text = "\n".join(b.get("text", {}).get("text", "") for b in blocks)
    still = next(t for t in text.split("\n*") if t.startswith("Still open"))
    escalated = next(t for t in text.split("\n*") if t.startswith("Escalated"))
    assert "<https://ops.example/alert/1101|#1101>" in still
    assert "<https://ops.example/alert/1101|#1101>" in escalated and "not acked" in escalated
    assert "<https://ops.example/incident/7|#7>" in text
    assert "never" not in text
    assert blocks_problem(blocks) is None


def test_a_slack_link_cannot_carry_a_second_link_or_a_ping() -> None:
    hostile = alert("x", status="open", url="https://ops.example/a?x=1|<!channel>>", tiny_id="1|<@U1>")
    text = json.dumps(render_slack(summary([hostile])))
    assert "<!channel>" not in text and "<@U1>" not in text


# -- runbook-gaps' summary ------------------------------------------------------------------


def _gap_week() -> tuple[list[object], object, dict[str, str], list[object]]:
    """Four gap kinds: one with an open issue and nothing new, one filed now, two held back by a
    cap of 1; and one covered kind."""
    from oncall.coverage import Matcher
    from oncall.gaps import GapMarker, assess_coverage, index_gap_issues, plan_gap_actions
    from oncall.models import IssueRef
    from oncall.runbook import parse_runbook

    book = parse_runbook("## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\nx\n_Mitigation_\ny\n")
    matcher = Matcher(book)
    titles = ["DiskUsageWarning xqwatcher", "VaultAbsent", "QueueDepthHigh", "CertExpiring", "NodeDown"]
    coverage = assess_coverage(
        [alert(t, at=START + timedelta(minutes=i)) for i, t in enumerate(titles)], matcher
    )
    known = next(kc for kc in coverage if kc.kind == "VaultAbsent")
    marker = GapMarker(
        fp=known.fingerprint, kind=known.kind, sample=known.sample.message, last=known.alerts[-1].created_at
    )
    url = "https://github.com/example-org/ops-runbook/issues/12"
    issue = IssueRef(number=12, title="t", body=f"{marker.encode()}\nbody", state="open", html_url=url)
    existing = index_gap_issues([issue])
    actions = plan_gap_actions(coverage, existing, matcher, max_issues=1)
    return coverage, book, {known.fingerprint: url}, actions  # type: ignore[return-value]


def test_the_gaps_summary_accounts_for_every_gap() -> None:
    from oncall.gap_render import coverage_markdown, gap_outcomes

    coverage, book, links, actions = _gap_week()
    outcomes = gap_outcomes(coverage, actions)  # type: ignore[arg-type]
    assert outcomes == {"create": 1, "hold": 2, "unchanged": 1}  # 4 gaps: 1 + 2 + 1
    report = coverage_markdown(coverage, book, links, actions)  # type: ignore[arg-type]
    assert (
        "Gaps and broken links: **4** (create 1 · hold 2 · unchanged 1: issue filed, no new alerts)" in report
    )


def test_the_gaps_table_puts_the_issue_first_as_a_short_link() -> None:
    from oncall.gap_render import coverage_markdown, coverage_rows

    coverage, book, links, actions = _gap_week()
    report = coverage_markdown(coverage, book, links, actions)  # type: ignore[arg-type]
    header = _header(report, "Kinds")
    assert header[0] == "issue" and header[-2:] == ["kind", "entry"]
    row = next(ln for ln in report.splitlines() if ln.endswith("| VaultAbsent | — |"))
    assert row.startswith("| [#12](https://github.com/example-org/ops-runbook/issues/12) | gap |")
    table = coverage_rows(coverage, book, links)  # type: ignore[arg-type]
    assert list(table[0])[:2] == ["issue", "status"]  # the table artifact's columns too


# -- incident-watch's report ----------------------------------------------------------------


def test_the_watch_report_says_why_lookback_minutes_was_not_used() -> None:
    from oncall.watch import WatchStart
    from oncall.watch_render import start_reason

    mark = START.isoformat()
    used = start_reason(WatchStart(since=START), mark, 60, "wm")
    assert f"starting at the watermark {mark}" in used and "lookback_minutes (60) is not used" in used
    first = start_reason(WatchStart(since=START), None, 60, "wm")
    assert "no watermark yet (the wm Variable)" in first and "looks back lookback_minutes (60)" in first
    bad = start_reason(
        WatchStart(since=START, problem="watermark 'x' is not an ISO-8601 time"), "x", 60, "wm"
    )
    assert "the watermark is not used (watermark 'x' is not an ISO-8601 time)" in bad


def test_the_watch_report_lists_each_closed_incident_action_first() -> None:
    from oncall.watch import coe_candidates
    from oncall.watch_render import watch_markdown

    long = incident(
        id="inc-1", tiny_id="7", url="https://ops.example/i/7", resolved_at=START + timedelta(days=1, hours=1)
    )
    short = incident(id="inc-2", message="Blip <b>", resolved_at=START + timedelta(days=1, minutes=3))
    candidates = coe_candidates([long, short], [], timedelta(minutes=10))
    md = watch_markdown(
        since=START,
        until=END,
        reason="why",
        threshold=timedelta(minutes=10),
        incidents=[long, short],
        alerts=[],
        candidates=candidates,
        emitted={"inc-1"},
        dry_run=False,
        event="oncall.incident.closed",
    )
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert rows[0].startswith("| COE event | duration |") and rows[0].endswith("| title |")
    assert rows[1].startswith("| emitted | 60 min |") and "[#7](https://ops.example/i/7) | inc-1 |" in rows[1]
    assert rows[2].startswith("| under 10m 00s | 3m 00s |") and rows[2].endswith("| Blip \\<b> |")
    assert "Events emitted (`oncall.incident.closed`, each starts coe-prep): **1**" in md
