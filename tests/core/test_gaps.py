"""Planning runbook-gap actions from plain data."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from oncall import escape
from oncall.coverage import Matcher
from oncall.entry_skeleton import entry_place, entry_skeleton
from oncall.errors import InputError
from oncall.gap_render import coverage_markdown, issue_body, issue_title, update_comment
from oncall.gaps import (
    Act,
    GapMarker,
    KindCoverage,
    assess_coverage,
    attach_links,
    check_misread,
    fingerprint,
    index_gap_issues,
    last_reported,
    link_fingerprint,
    plan_gap_actions,
    read_markers,
    with_marker,
)
from oncall.links import LinkCheck, LinkStatus
from oncall.models import IssueRef, Priority
from oncall.runbook import EntryForm, Layout, Runbook, RunbookEntry, parse_runbook
from tests.factories import START, alert, runbook_entry

BOOK = parse_runbook(
    "# Products\n## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\nx\n_Mitigation_\ny\n"
)
MATCHER = Matcher(BOOK)
XQ = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-{})"
EDX = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp ip-10-1-1-{})"
VAULT = "[Prometheus]: [FIRING:1] VaultAbsent operations-qa (vault critical)"


def _issue(
    number: int,
    kc: KindCoverage,
    state: str = "open",
    reason: str | None = None,
    last: datetime | None = None,
) -> IssueRef:
    marker = GapMarker(
        fp=kc.fingerprint, kind=kc.kind, sample=kc.sample.message, last=last or kc.alerts[-1].created_at
    )
    return IssueRef(
        number=number,
        title="t",
        body=f"{marker.encode()}\nbody",
        state=state,
        state_reason=reason,
        html_url=f"https://github.com/o/r/issues/{number}",
    )


def coverage(*titles: str) -> list[KindCoverage]:
    return assess_coverage([alert(t, at=START + timedelta(minutes=i)) for i, t in enumerate(titles)], MATCHER)


def test_kinds_group_across_hosts_and_know_their_entry() -> None:
    cov = {kc.kind: kc for kc in coverage(XQ.format(1), XQ.format(2), EDX.format(3))}
    assert cov["DiskUsageWarning xqwatcher"].status == "covered"
    assert len(cov["DiskUsageWarning xqwatcher"].alerts) == 2
    assert cov["DiskUsageWarning edxapp"].status == "gap"


def test_new_gaps_are_created_up_to_the_cap_most_urgent_first() -> None:
    titles = [f"Alert{chr(65 + i)}Broken" for i in range(5)]
    cov = assess_coverage(
        [alert(t, priority=Priority.P1 if i == 3 else Priority.P3) for i, t in enumerate(titles)], MATCHER
    )
    actions = plan_gap_actions(cov, {}, MATCHER, max_issues=2)
    assert [a.act for a in actions] == [Act.CREATE, Act.CREATE, Act.HOLD, Act.HOLD, Act.HOLD]
    assert actions[0].kind == "AlertDBroken"  # the P1
    assert plan_gap_actions(cov, {}, MATCHER, max_issues=0)[0].act is Act.HOLD


def test_open_issue_gets_a_comment_only_for_new_alerts() -> None:
    cov = coverage(EDX.format(1), EDX.format(2))
    kc = cov[0]
    up_to_date = index_gap_issues([_issue(7, kc)])
    assert plan_gap_actions(cov, up_to_date, MATCHER, max_issues=5) == []
    behind = index_gap_issues([_issue(7, kc, last=kc.alerts[0].created_at)])
    [action] = plan_gap_actions(cov, behind, MATCHER, max_issues=5)
    assert action.act is Act.COMMENT and action.issue and action.issue.number == 7
    assert [a.id for a in action.new_alerts] == [kc.alerts[1].id]


def test_closed_issue_is_reopened_but_not_planned_is_left_alone() -> None:
    cov = coverage(EDX.format(1), EDX.format(2))
    kc = cov[0]
    done = index_gap_issues([_issue(3, kc, state="closed", reason="completed", last=kc.alerts[0].created_at)])
    assert [a.act for a in plan_gap_actions(cov, done, MATCHER, max_issues=5)] == [Act.REOPEN]
    assert [a.act for a in plan_gap_actions(cov, done, MATCHER, max_issues=0)] == [Act.HOLD]
    wontfix = index_gap_issues(
        [_issue(3, kc, state="closed", reason="not_planned", last=kc.alerts[0].created_at)]
    )
    assert [a.act for a in plan_gap_actions(cov, wontfix, MATCHER, max_issues=5)] == [Act.LEAVE]


def test_covered_kinds_close_their_issue_only_when_asked() -> None:
    cov = coverage(XQ.format(1))
    existing = index_gap_issues([_issue(9, cov[0])])
    assert plan_gap_actions(cov, existing, MATCHER, max_issues=5) == []
    [action] = plan_gap_actions(cov, existing, MATCHER, max_issues=5, close_covered=True)
    assert action.act is Act.CLOSE and "DiskUsageWarning xqwatcher" in action.reason
    # A gap issue whose kind did not page this window is checked by its stored sample.
    quiet = index_gap_issues([_issue(9, cov[0])])
    [action] = plan_gap_actions([], quiet, MATCHER, max_issues=5, close_covered=True)
    assert action.act is Act.CLOSE


def test_duplicates_made_by_hand_resolve_to_the_lowest_open_issue() -> None:
    kc = coverage(EDX.format(1))[0]
    found = index_gap_issues([_issue(12, kc), _issue(4, kc, state="closed"), _issue(8, kc)])
    assert found[kc.fingerprint].issue.number == 8


def test_markers_survive_hostile_text_and_move_forward() -> None:
    kind = "--> <!-- {{x}} @team"
    marker = GapMarker(fp=fingerprint(kind), kind=kind, sample="<script>", last=START)
    body = f"intro\n{marker.encode()}\nrest"
    [(is_update, back)] = read_markers(body)
    assert not is_update and back == marker
    later = marker.model_copy(update={"last": START + timedelta(days=1)})
    assert read_markers(with_marker(body, later))[0][1].last == later.last
    comment = later.encode(update=True)
    assert last_reported(marker, ["unrelated", comment]) == later.last


def test_issue_body_escapes_alert_text_and_fits_githubs_limit() -> None:
    hostile = (
        "@oncall-team <img src=x onerror=alert(1)> [x](http://evil) ``` {{incident.title}} " + "A" * 70_000
    )
    kc = assess_coverage([alert(hostile, description="@here <b>x</b>")], MATCHER)[0]
    body = issue_body(kc, BOOK, "America/New_York")
    assert len(body) <= 65_536
    # Inside the skeleton's code fence text is literal; everywhere else it must be escaped.
    outside = re.sub(r"^(`{4,})markdown\n.*?^\1$", "", body, flags=re.S | re.M)
    assert "````" not in outside
    assert "@oncall-team" not in outside and "@here" not in outside and "@oncall-team" not in body
    assert "<img" not in outside and "](http://evil" not in outside and "<b>" not in outside
    assert read_markers(body)[0][1].fp == kc.fingerprint
    assert (
        "### " in body and "_Diagnosis_" in body and "_Mitigation_" in body
    )  # skeleton in the runbook's style
    fence_lines = [ln for ln in body.splitlines() if ln.startswith("````")]
    assert len(fence_lines) == 2  # a fence longer than the ``` inside the alert text


def test_the_coverage_report_gets_the_prefect_uis_escaping_not_githubs() -> None:
    """The report is a Prefect artifact (and coverage.md): nobody is notified there, so no ZWSP."""
    cov = coverage("Zoë@ops #x <img src=x> [x](http://evil) | DiskBroken")
    report = coverage_markdown(cov, BOOK, {}, plan_gap_actions(cov, {}, MATCHER, max_issues=0))
    assert "\u200b" not in report and "Zoë@ops #x" in report  # marked's escaping: tests/core/test_render.py
    assert "\\<img" in report and "](http://evil" not in report
    assert all(
        line.count(" | ") == 5 for line in report.splitlines() if "Zoë" in line and line.startswith("| ")
    )


def test_update_comment_lists_new_alerts_with_a_marker() -> None:
    cov = coverage(EDX.format(1), EDX.format(2))
    existing = index_gap_issues([_issue(7, cov[0], last=cov[0].alerts[0].created_at)])
    [action] = plan_gap_actions(cov, existing, MATCHER, max_issues=5)
    text = update_comment(action, "UTC")
    assert "paged 1 more time" in text and read_markers(text)[0][0] is True


# Runbook links, the misread guard, skeletons by layout and entry quality (issue 16)

LINK = "https://github.com/o/rb/blob/main/runbook.md#nope"


def _linked(status: LinkStatus, *titles: str, entry: RunbookEntry | None = None) -> list[KindCoverage]:
    cov = coverage(*titles)
    check = LinkCheck(url=LINK, status=status, reason="no heading #nope in runbook.md", entry=entry)
    return attach_links(cov, {kc.sample.id: LINK for kc in cov}, {LINK: check})


def test_a_broken_link_is_filed_under_its_own_fingerprint_with_its_own_text() -> None:
    [kc] = _linked(LinkStatus.BROKEN, XQ.format(1))  # the heading matches, the link decides
    assert kc.status == "broken-link" and kc.entry is None
    [action] = plan_gap_actions([kc], {}, MATCHER, max_issues=5)
    assert action.act is Act.CREATE and action.fingerprint == link_fingerprint(kc.kind) != kc.fingerprint
    body = issue_body(kc, BOOK, "UTC")
    assert "The alert links to" in body and "which does not exist" in body
    assert read_markers(body)[0][1].fp == action.fingerprint and read_markers(body)[0][1].link == LINK
    assert issue_title(kc.kind, kc).startswith("Broken runbook link: ")
    assert issue_title(kc.kind).startswith("Runbook gap: ")


def test_a_gap_issue_and_a_broken_link_issue_of_one_kind_never_meet() -> None:
    gap = coverage(EDX.format(1))[0]
    existing = index_gap_issues([_issue(4, gap)])  # the kind's gap issue, filed before it had a link
    [kc] = _linked(LinkStatus.BROKEN, EDX.format(1))
    [action] = plan_gap_actions([kc], existing, MATCHER, max_issues=5)
    assert action.act is Act.CREATE and action.issue is None


def test_an_unverified_link_is_shown_and_never_filed() -> None:
    [kc] = _linked(LinkStatus.UNVERIFIED, EDX.format(1))
    assert kc.status == "unverified-link"
    assert plan_gap_actions([kc], {}, MATCHER, max_issues=5) == []
    report = coverage_markdown([kc], BOOK, {}, [])
    assert "| unverified-link |" in report


def test_a_link_that_resolves_covers_and_a_fix_closes_the_broken_link_issue() -> None:
    entry = BOOK.entries[0]
    [ok] = _linked(LinkStatus.OK, EDX.format(1), entry=entry)  # no heading match, the link covers
    assert ok.status == "covered" and ok.entry == entry
    [outside] = _linked(LinkStatus.OK, EDX.format(2))  # a page outside the runbook
    assert outside.status == "covered" and outside.entry is None
    [broken] = _linked(LinkStatus.BROKEN, EDX.format(1))
    [filed] = plan_gap_actions([broken], {}, MATCHER, max_issues=5)
    issue = IssueRef(
        number=5, title="t", body=issue_body(broken, BOOK, "UTC"), state="open", html_url="https://x/5"
    )
    existing = index_gap_issues([issue])
    assert plan_gap_actions([ok], existing, MATCHER, max_issues=5) == []
    [close] = plan_gap_actions([ok], existing, MATCHER, max_issues=5, close_covered=True)
    assert close.act is Act.CLOSE and close.fingerprint == filed.fingerprint and close.issue == issue
    # Not paging this window, the broken-link issue waits: a heading match does not fix a link.
    assert plan_gap_actions([], existing, MATCHER, max_issues=5, close_covered=True) == []


def _book(n: int, layout: Layout = Layout.HEADINGS) -> Runbook:
    entries = tuple(
        runbook_entry(
            f"Widget{chr(65 + i % 26)}{chr(65 + i // 26)}Down",
            "Widgets",
            line=i + 2,
            anchor=f"w{i}",
        )
        for i in range(n)
    )
    return Runbook(source="rb.md", entries=entries, products=("Widgets",), layout=layout)


def _kinds(gaps: int, covered: int) -> tuple[list[KindCoverage], Runbook]:
    titles = [f"Gadget{chr(65 + i)}Broken" for i in range(gaps)] + ["WidgetAADown"] * covered
    book = _book(20)
    return assess_coverage([alert(t) for t in titles], Matcher(book)), book


def test_the_misread_guard_stops_when_nearly_every_kind_is_a_gap() -> None:
    cov, book = _kinds(9, 1)  # 9 of 10 kinds, 20 entries
    assert sum(kc.status == "gap" for kc in cov) == 9 and len(cov) == 10
    with pytest.raises(InputError) as stopped:
        check_misread(cov, book)
    text = str(stopped.value)
    assert "\n" not in text and "'headings'" in text and "ONCALL_RUNBOOK" in text and "force" in text
    check_misread(cov, book, force=True)
    check_misread(cov, book.model_copy(update={"entries": book.entries[:19]}))  # a small runbook
    check_misread(cov[1:], book)  # 9 kinds
    fewer, _ = _kinds(8, 2)  # 80%
    check_misread(fewer, book)


def test_a_heading_skeleton_uses_the_runbooks_level_and_section_headings() -> None:
    book = _book(1).model_copy(update={"entry_level": 2, "section_marker": "### {}"})
    [kc] = coverage(EDX.format(1))
    text = entry_skeleton(kc, book, ["restarted @ops <b>edxapp</b>"], marker="<!-- m -->", esc=escape.md)
    lines = text.splitlines()
    assert lines[0] == "## DiskUsageWarning edxapp" and "### Diagnosis" in lines and "### Mitigation" in lines
    assert "<!-- m -->" in lines and "<b>" not in text and "@ops" not in text and "restarted" in text


def _files_book() -> Runbook:
    def entry(path: str, product: str | None) -> RunbookEntry:
        name = path.rsplit("/", 1)[-1].removesuffix(".md")
        return runbook_entry(name, product, name=name, path=path, form=EntryForm.FILE)

    return Runbook(
        source="o/rb:runbooks@main",
        entries=(
            entry("alerts/disk/DiskUsageWarning.md", "disk"),
            entry("alerts/vault/VaultSealed.md", "vault"),
        ),
        products=("disk", "vault"),
        layout=Layout.FILES,
        section_marker="## {}",
        sections=("Summary", "Impact", "Diagnosis", "Mitigation"),
    )


def test_a_files_skeleton_is_a_new_file_in_the_guessed_folder_with_the_siblings_sections() -> None:
    book = _files_book()
    [kc] = assess_coverage([alert("[FIRING:1] VaultAbsent operations-qa (vault critical)")], Matcher(book))
    product, path = entry_place(kc, book)
    assert (product, path) == ("vault", "alerts/vault/VaultAbsent.md")
    text = entry_skeleton(kc, book)
    lines = text.splitlines()
    assert lines[0] == "# VaultAbsent"
    assert [ln for ln in lines if ln.startswith("## ")] == [
        "## Summary",
        "## Impact",
        "## Diagnosis",
        "## Mitigation",
    ]
    body = issue_body(kc, book, "UTC")
    assert "Add `alerts/vault/VaultAbsent.md`" in body


def test_a_table_skeleton_is_one_row() -> None:
    book = _book(1, Layout.TABLE).model_copy(update={"sections": ("Diagnosis", "Mitigation")})
    [kc] = coverage("[FIRING:1] Pipe|Alert prod (x)")
    row = entry_skeleton(kc, book, marker="<!-- m -->")
    assert row.count("\n") == 1 and row.startswith("| Pipe\\|Alert |")
    assert row.count(" | ") == 2 and row.rstrip().endswith("<!-- m --> |")


def test_the_summary_shows_entry_flags_and_a_quality_section() -> None:
    book = parse_runbook(
        "# P\n## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\nx\n"
        "### VaultAbsent\n_Mitigation_\ny\n### Healthy\n_Diagnosis_\nx\n_Mitigation_\ny\n",
        url="https://gh/rb.md",
    )
    cov = assess_coverage([alert(XQ.format(1))], Matcher(book))
    report = coverage_markdown(cov, book, {}, [])
    row = next(ln for ln in report.splitlines() if ln.startswith("| ") and "| DiskUsageWarning" in ln)
    assert "(no Mitigation)" in row and row.count(" | ") == 5
    quality = report.split("## Entry quality", 1)[1]
    assert (
        "[DiskUsageWarning xqwatcher](https://gh/rb.md#diskusagewarning-xqwatcher): no Mitigation · paged"
        in quality
    )
    assert "[VaultAbsent](https://gh/rb.md#vaultabsent): no Diagnosis" in quality
    assert "Healthy" not in quality
