"""The advocacy digest: every open operational-safety issue ranked by what it has cost, then age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall import advocacy
from oncall.findings import Finding, FindingKind
from oncall.models import IssueRef
from oncall.ops_filing import finding_body
from oncall.sandbox.slack_fake import MAX_SECTION_TEXT

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
WEEK = NOW - timedelta(days=7)


def _finding(subject: str) -> Finding:
    return Finding(kind=FindingKind.NOISE, subject=subject, summary="pages often", pages=3)


def _issue(number: int, *, age: int, idle: int | None = None, body: str = "", **kw: object) -> IssueRef:
    values: dict[str, object] = {
        "number": number,
        "title": f"issue {number}",
        "body": body,
        "state": "open",
        "html_url": f"https://github.com/o/r/issues/{number}",
        "created_at": NOW - timedelta(days=age),
        "updated_at": NOW - timedelta(days=age if idle is None else idle),
        "labels": ("operational-safety",),
    }
    return IssueRef.model_validate(values | kw)


def _pages(costs: dict[str, int]) -> advocacy.PagesSince:
    asked: list[tuple[str, datetime]] = []

    def pages_since(fp: str, since: datetime) -> int:
        asked.append((fp, since))
        return costs.get(fp, 0)

    pages_since.asked = asked  # type: ignore[attr-defined]
    return pages_since


def test_filed_issues_rank_by_their_cost_then_hand_filed_ones_by_age() -> None:
    noisy, flappy = _finding("DiskFull"), _finding("CpuHigh")
    issues = [
        _issue(1, age=40),  # by hand, old
        _issue(2, age=10, body=finding_body(noisy)),
        _issue(3, age=3, body=finding_body(flappy)),
        _issue(4, age=90),  # by hand, oldest
    ]
    pages = _pages({noisy.fingerprint: 37, flappy.fingerprint: 50})
    d = advocacy.digest(issues, [], now=NOW, week_start=WEEK, pages_since=pages)
    assert [r.issue.number for r in d.rows] == [3, 2, 4, 1]
    assert [r.pages for r in d.rows] == [50, 37, None, None]
    assert {fp for fp, _ in pages.asked} == {noisy.fingerprint, flappy.fingerprint}  # type: ignore[attr-defined]
    assert advocacy.cost_windows(issues) == {
        noisy.fingerprint: issues[1].created_at,
        flappy.fingerprint: issues[2].created_at,
    }
    md = advocacy.markdown(d)
    assert "this has cost 50 pages since it was filed 3 days ago" in md
    assert "— (filed by hand)" in md


def test_ages_idle_days_and_this_week_are_counted_at_now() -> None:
    issues = [_issue(1, age=30, idle=2), _issue(2, age=1)]
    closed = [
        _issue(5, age=20, state="closed", closed_at=NOW - timedelta(days=2)),
        _issue(6, age=20, state="closed", closed_at=NOW - timedelta(days=9)),  # last week
    ]
    d = advocacy.digest(issues, closed, now=NOW, week_start=WEEK, pages_since=_pages({}))
    by_number = {r.issue.number: r for r in d.rows}
    assert (by_number[1].age_days, by_number[1].idle_days, by_number[1].new) == (30, 2, False)
    assert (by_number[2].age_days, by_number[2].new) == (1, True)
    assert d.opened == 1 and [i.number for i in d.closed] == [5]
    later = advocacy.digest(
        issues, closed, now=NOW + timedelta(days=10), week_start=WEEK, pages_since=_pages({})
    )
    assert {r.issue.number: r.age_days for r in later.rows} == {1: 40, 2: 11}


def test_the_tracking_issue_is_found_by_its_marker_and_left_out_of_the_rows() -> None:
    d0 = advocacy.digest([], [], now=NOW, week_start=WEEK, pages_since=_pages({}))
    tracking = _issue(9, age=60, body=advocacy.tracking_body(d0))
    copy = _issue(12, age=5, body=advocacy.tracking_body(d0))
    other = _issue(10, age=5)
    assert advocacy.tracking_issue([copy, other, tracking]) == tracking
    assert advocacy.tracking_issue([other]) is None
    assert advocacy.tracking_issue([tracking], label="another-label") is None
    d = advocacy.digest([tracking, other], [], now=NOW, week_start=WEEK, pages_since=_pages({}))
    assert [r.issue.number for r in d.rows] == [10]
    body = advocacy.tracking_body(d)
    assert body.startswith(advocacy.tracking_marker().encode()) and "| #10 |" in body


def test_an_empty_digest_says_so_everywhere() -> None:
    d = advocacy.digest([], [], now=NOW, week_start=WEEK, pages_since=_pages({}))
    for text in (advocacy.markdown(d), advocacy.slack_text(d), advocacy.tracking_body(d)):
        assert "No open operational" in text and "## Open issues" not in text


def test_hostile_titles_are_escaped_where_they_land_and_slack_stays_within_a_section() -> None:
    hostile = "<!channel> @here [x](http://evil.example) | #12 <script>" + "y" * 5_000
    issues = [_issue(n, age=n, title=f"{hostile} {n}") for n in range(1, 40)]
    d = advocacy.digest(issues, [], now=NOW, week_start=WEEK, pages_since=_pages({}))
    slack = advocacy.slack_text(d)
    assert len(slack) <= MAX_SECTION_TEXT and "<!channel>" not in slack and "more" in slack
    body = advocacy.tracking_body(d)
    assert "@here" not in body and "<script>" not in body and "](http://evil.example)" not in body
    md = advocacy.markdown(d)
    assert "](http://evil.example)" not in md and all(len(line) < 1_000 for line in md.splitlines())
