"""Findings filed as issues through the one lifecycle: created once, commented only with new
examples, reopened when a closed-as-done problem pages again, left when not planned, held over
the cap; hostile subjects land escaped and cut."""

from __future__ import annotations

from datetime import timedelta

from oncall import escape
from oncall.filing import Act, Filing, index_issues
from oncall.findings import Example, Finding, FindingKind
from oncall.gap_render import BODY_LIMIT, TITLE_LIMIT
from oncall.models import IssueRef
from oncall.ops_filing import FindingMarker, finding_body, finding_title, plan_findings
from tests.factories import START

LABEL = "operational-safety"


def _example(n: int, hours: float = 0) -> Example:
    return Example(
        id=f"a{n}",
        title=f"Disk full on db-{n}",
        at=START + timedelta(hours=hours),
        url=f"https://x.test/a{n}",
    )


def _finding(
    subject: str = "DiskFull", kind: FindingKind = FindingKind.FLAPPING, *examples: Example
) -> Finding:
    return Finding(
        kind=kind,
        subject=subject,
        summary="opened and closed 14 times",
        pages=14,
        evidence={"cycles": 14},
        examples=examples or (_example(1, 2), _example(0, 1)),
    )


def _issue(number: int, body: str, state: str = "open", reason: str | None = None) -> IssueRef:
    return IssueRef(
        number=number,
        title="t",
        body=body,
        state=state,
        state_reason=reason,
        html_url=f"https://github.com/o/r/issues/{number}",
        labels=(LABEL,),
    )


def _plan(findings: list[Finding], issues: list[IssueRef], cap: int = 10) -> list[Filing]:
    return plan_findings(findings, index_issues(issues, FindingMarker), LABEL, cap)


def _filed(finding: Finding, number: int = 5, **kw: str | None) -> IssueRef:
    [step] = _plan([finding], [])
    assert step.act is Act.CREATE
    return _issue(number, step.want.body, **kw)  # type: ignore[arg-type]


def test_a_new_finding_is_created_with_its_marker_and_a_rerun_says_nothing() -> None:
    finding = _finding()
    [step] = _plan([finding], [])
    assert step.act is Act.CREATE and step.want.labels == (LABEL,) and step.want.key == finding.fingerprint
    marker = FindingMarker.first(step.want.body)
    assert marker is not None and marker.fp == finding.fingerprint and marker.kind == "flapping"
    assert marker.last == START + timedelta(hours=2) and marker.ids == ("a1",)
    assert "opened and closed 14 times" in step.want.body and "https://x.test/a0" in step.want.body
    filed = _issue(5, step.want.body)
    assert _plan([finding], [filed]) == []  # same findings again: nothing new to say


def test_an_open_issue_gets_one_comment_with_only_the_new_examples() -> None:
    filed = _filed(_finding())
    later = _finding("DiskFull", FindingKind.FLAPPING, _example(3, 30), _example(2, 20), _example(1, 2))
    [step] = _plan([later], [filed])
    assert step.act is Act.COMMENT and step.issue == filed and step.want.repeat is not None
    body_marker = FindingMarker.first(filed.body)
    said = step.want.repeat.unsaid(body_marker, [])
    assert said is not None and "a3" in said.comment and "a2" in said.comment and "a1" not in said.comment
    assert "2 new example(s)" in said.comment
    assert isinstance(said.marker, FindingMarker) and said.marker.last == START + timedelta(hours=30)
    # a rerun after the comment was posted (before the body moved on) says nothing twice
    assert step.want.repeat.unsaid(body_marker, [said.comment]) is None
    # and once the body carries the new marker, the planner has no news either
    moved = _issue(5, said.marker.put(filed.body))
    assert _plan([later], [moved]) == []


def test_a_new_example_at_the_same_second_as_the_last_reported_is_still_news() -> None:
    filed = _filed(_finding())
    same = _finding("DiskFull", FindingKind.FLAPPING, _example(9, 2), _example(1, 2))
    [step] = _plan([same], [filed])
    assert step.act is Act.COMMENT and step.want.repeat is not None
    said = step.want.repeat.unsaid(FindingMarker.first(filed.body), [])
    assert said is not None and "a9" in said.comment and "a1" not in said.comment
    assert isinstance(said.marker, FindingMarker) and set(said.marker.ids) == {"a1", "a9"}


def test_a_closed_done_issue_reopens_only_when_it_recurs_and_not_planned_is_left() -> None:
    done = _filed(_finding(), state="closed", reason="completed")
    assert _plan([_finding()], [done]) == []  # the same evidence is no recurrence
    recurred = _finding("DiskFull", FindingKind.FLAPPING, _example(7, 50))
    [step] = _plan([recurred], [done])
    assert step.act is Act.REOPEN and step.issue == done and step.want.repeat is not None
    said = step.want.repeat.unsaid(FindingMarker.first(done.body), [])
    assert said is not None and said.comment.splitlines()[1].startswith("Reopened")
    not_planned = _filed(_finding(), state="closed", reason="not_planned")
    assert [s.act for s in _plan([recurred], [not_planned])] == [Act.LEAVE]


def test_the_cap_files_the_first_findings_in_the_order_given_and_holds_the_rest() -> None:
    findings = [_finding(f"Kind{i}") for i in range(4)]
    steps = _plan(findings, [], cap=2)
    assert [s.act for s in steps] == [Act.CREATE, Act.CREATE, Act.HOLD, Act.HOLD]
    assert [s.want.key for s in steps] == [f.fingerprint for f in findings]
    # a comment on an open issue is no new issue: the cap does not count it
    filed = _filed(_finding("Kind0"))
    newer = _finding("Kind0", FindingKind.FLAPPING, _example(8, 90))
    assert [s.act for s in _plan([newer, *findings[1:]], [filed], cap=1)] == [
        Act.COMMENT,
        Act.CREATE,
        Act.HOLD,
        Act.HOLD,
    ]


def test_runbook_quality_is_never_filed_and_a_duplicate_finding_is_filed_once() -> None:
    quality = _finding("payments.md: Disk full", FindingKind.RUNBOOK_QUALITY)
    assert _plan([quality], []) == []
    noisy = _finding("CPU", FindingKind.NOISE)
    assert [s.want.key for s in _plan([quality, noisy, noisy], [], cap=5)] == [noisy.fingerprint]


def test_the_same_subject_of_another_kind_is_another_issue() -> None:
    filed = _filed(_finding("DiskFull", FindingKind.FLAPPING))
    [step] = _plan([_finding("DiskFull", FindingKind.NOISE)], [filed])
    assert step.act is Act.CREATE


def test_a_hostile_subject_is_escaped_and_cut_in_title_and_body() -> None:
    hostile = "@team #12 <script>alert(1)</script> " + "x" * 100_000
    example = Example(id="#7", title="@oncall <img src=x>", at=START, url="javascript:alert(1)")
    finding = _finding(hostile, FindingKind.NOISE, example)
    title, body = finding_title(finding), finding_body(finding)
    assert len(title) <= TITLE_LIMIT and len(body) <= BODY_LIMIT
    for text in (title, body):
        assert "@team" not in text and "#12" not in text and "@" + escape.ZWSP + "team" in text
    assert "<script>" not in body and "&lt;script&gt;" in body and "<img" not in body
    assert "@oncall" not in body
    assert "](javascript:" not in body  # a non-http URL is no link
    assert FindingMarker.first(body) is not None  # the marker survives the cut


def test_a_chart_goes_into_the_body_as_it_is() -> None:
    chart = "```mermaid\nxychart-beta\n  bar [1, 2, 3]\n```"
    finding = _finding()
    [step] = plan_findings([finding], {}, LABEL, 5, charts={finding.fingerprint: chart})
    assert chart in step.want.body and chart in finding_body(finding, chart=chart)
    assert "mermaid" not in finding_body(finding)
