"""Planning runbook-gap actions from plain data."""

from __future__ import annotations

import re
from datetime import timedelta

from oncall.clients.github import IssueRef
from oncall.coverage import Matcher
from oncall.gap_render import coverage_markdown, issue_body, update_comment
from oncall.gaps import (
    Act,
    GapMarker,
    assess_coverage,
    fingerprint,
    index_gap_issues,
    last_reported,
    plan_gap_actions,
    read_markers,
    with_marker,
)
from oncall.models import Priority
from oncall.runbook import parse_runbook
from tests.factories import START, alert

BOOK = parse_runbook(
    "# Products\n## Disks\n### DiskUsageWarning xqwatcher\n_Diagnosis_\nx\n_Mitigation_\ny\n"
)
MATCHER = Matcher(BOOK)
XQ = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher ip-10-1-1-{})"
EDX = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp ip-10-1-1-{})"
VAULT = "[Prometheus]: [FIRING:1] VaultAbsent operations-qa (vault critical)"


def _issue(number: int, kc, state: str = "open", reason: str | None = None, last=None) -> IssueRef:  # type: ignore[no-untyped-def]
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


def coverage(*titles: str):  # type: ignore[no-untyped-def]
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
    assert "\u200b" not in report and "Zoë@ops \\#x" in report
    assert "<img" not in report and "](http://evil" not in report
    assert all(line.count(" | ") == 5 for line in report.splitlines() if line.startswith("| Zoë"))


def test_update_comment_lists_new_alerts_with_a_marker() -> None:
    cov = coverage(EDX.format(1), EDX.format(2))
    existing = index_gap_issues([_issue(7, cov[0], last=cov[0].alerts[0].created_at)])
    [action] = plan_gap_actions(cov, existing, MATCHER, max_issues=5)
    text = update_comment(action, "UTC")
    assert "paged 1 more time" in text and read_markers(text)[0][0] is True


def test_alerts_share_equal_responder_and_tag_tuples() -> None:
    team = [{"type": "team", "id": "ops", "name": "Ops"}]
    a, b = alert(responders=team, tags=["grafana"]), alert(responders=team, tags=["grafana"])
    assert a.responders is b.responders and a.tags is b.tags  # one tuple, walked by nobody twice
    other = alert(responders=[{"type": "team", "id": "db"}], tags=["grafana", "db"])
    assert other.responders[0].id == "db" and other.tags == ("grafana", "db")
    assert a.responders[0].name == "Ops" and a.tags == ("grafana",)
