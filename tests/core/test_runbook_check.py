"""`oncall runbook check`, decided on plain data: listings, rule files, link-or-words, exit codes."""

from __future__ import annotations

import json

import pytest

from oncall.coverage import Matcher
from oncall.errors import InputError
from oncall.links import LinkCheck, LinkStatus
from oncall.runbook import Runbook, RunbookEntry, parse_runbook
from oncall.runbook_check import (
    CheckResult,
    CheckStatus,
    EntryRef,
    RuleAlert,
    check_rules,
    check_titles,
    exit_code,
    links_to_check,
    list_entries,
    parse_rules,
    render_listing,
    render_results,
)
from tests.factories import CHECK_RUNBOOK

RUNBOOK = CHECK_RUNBOOK  # two products; QueueDepthHigh a stub without Mitigation


@pytest.fixture
def runbook() -> Runbook:
    return parse_runbook(RUNBOOK, source="runbook.md", url="https://github.com/acme/rb/blob/main/runbook.md")


def _entry(runbook: Runbook, title: str) -> RunbookEntry:
    return next(e for e in runbook.entries if e.title == title)


def _rule(alert: str, url: str | None = None) -> RuleAlert:
    return RuleAlert(alert=alert, runbook_url=url, file="alerts.yaml", group="g")


def test_the_listing_names_each_entry_with_its_place_and_flags(runbook: Runbook) -> None:
    listed = {e.title: e for e in list_entries(runbook)}
    assert set(listed) == {"DiskFull", "QueueDepthHigh", "HighErrorRate"}
    queue = listed["QueueDepthHigh"]
    assert queue.product == "Storage" and queue.anchor == "queuedepthhigh"
    assert queue.line == RUNBOOK.splitlines().index("### QueueDepthHigh") + 1
    assert "no Mitigation" in queue.flags and "stub" in queue.flags
    assert listed["DiskFull"].flags == []
    assert listed["DiskFull"].link == "https://github.com/acme/rb/blob/main/runbook.md#diskfull"


def test_the_listing_text_has_layout_count_products_and_a_summary(runbook: Runbook) -> None:
    text = render_listing(runbook, list_entries(runbook))
    assert text.splitlines()[0] == "Runbook runbook.md: layout headings, 3 entries, 2 products"
    assert "Products: Storage, API" in text
    assert "QueueDepthHigh  [no Mitigation, stub]" in text
    assert text.splitlines()[-1] == "3 entries: 2 complete, 1 no Mitigation, 1 stub"


def test_titles_are_matched_as_runbook_gaps_matches_them(runbook: Runbook) -> None:
    matcher = Matcher(runbook)
    title = "[Prometheus]: [FIRING:1] DiskFull prod (db-1 /dev/sda)"
    covered, gap = check_titles(matcher, [title, "DiskFullSoon"])
    assert covered.status is CheckStatus.COVERED
    expected = matcher.match(title)
    assert expected is not None
    assert covered.entry == EntryRef.of(expected.entry) and covered.why == list(expected.words)
    assert covered.entry.title == "DiskFull" and covered.entry.anchor == "diskfull"
    assert gap.status is CheckStatus.GAP and gap.entry is None and gap.why == []
    assert exit_code([covered]) == 0 and exit_code([covered, gap]) == 1


def test_a_json_line_has_exactly_the_documented_keys(runbook: Runbook) -> None:
    (result,) = check_titles(Matcher(runbook), ["HighErrorRate"])
    line = json.loads(json.dumps(result.json_line()))
    assert line == {
        "title": "HighErrorRate",
        "kind": "HighErrorRate",
        "status": "covered",
        "entry": {
            "title": "HighErrorRate",
            "path": "",
            "line": _entry(runbook, "HighErrorRate").line,
            "anchor": "higherrorrate",
        },
        "why": ["higherrorrate"],
    }


def test_a_broken_link_fails_the_alert_even_when_its_name_matches(runbook: Runbook) -> None:
    url = "https://github.com/acme/rb/blob/main/runbook.md#diskful"
    links = {url: LinkCheck(url=url, status=LinkStatus.BROKEN, reason="runbook.md has no heading #diskful")}
    (result,) = check_rules(Matcher(runbook), [_rule("DiskFull", url)], links)
    assert result.status is CheckStatus.BROKEN_LINK and result.why == [url]
    assert result.entry is not None and result.entry.title == "DiskFull"  # the fix: point the link there
    text = render_results([result])
    assert (
        text.splitlines()[0]
        == "BROKEN DiskFull: runbook.md has no heading #diskful (an entry matches the name: DiskFull at line 5)"
    )
    assert exit_code([result]) == 1


def test_a_link_that_resolves_covers_the_alert_whatever_its_name(runbook: Runbook) -> None:
    target = _entry(runbook, "HighErrorRate")
    inside = "https://github.com/acme/rb/blob/main/runbook.md#higherrorrate"
    outside = "https://wiki.example.com/Api5xx"
    links = {
        inside: LinkCheck(url=inside, status=LinkStatus.OK, reason="heading exists", entry=target),
        outside: LinkCheck(url=outside, status=LinkStatus.OK, reason="200"),
    }
    a, b = check_rules(
        Matcher(runbook), [_rule("ApiFiveHundreds", inside), _rule("Api5xxBurst", outside)], links
    )
    assert a.status is CheckStatus.COVERED and a.entry == EntryRef.of(target) and a.why == [inside]
    assert b.status is CheckStatus.COVERED and b.entry is None and b.why == [outside]
    assert "ApiFiveHundreds -> HighErrorRate at line" in render_results([a])
    assert f"Api5xxBurst -> {outside}" in render_results([b])


def test_an_unverified_or_templated_link_leaves_the_decision_to_the_words(runbook: Runbook) -> None:
    walled = "https://wiki.example.com/private/DiskFull"
    templated = "https://runbooks.example.com/{{ $labels.alertname }}"
    links = {walled: LinkCheck(url=walled, status=LinkStatus.UNVERIFIED, reason="login page")}
    alerts = [_rule("DiskFull", walled), _rule("NodeDown", templated), _rule("NodeDown")]
    assert links_to_check(alerts) == [walled]
    disk, templ, plain = check_rules(Matcher(runbook), alerts, links)
    assert disk.status is CheckStatus.COVERED and disk.why == ["diskfull"] and "login page" in disk.note
    assert templ.status is CheckStatus.GAP and "templated" in templ.note
    assert plain.status is CheckStatus.GAP


def test_a_link_is_shown_as_the_check_shows_it_never_as_written(runbook: Runbook) -> None:
    written = "https://wiki.example.com/gone?token=s3cr3t-canary"
    shown = "https://wiki.example.com/gone?token=[redacted]"
    links = {written: LinkCheck(url=shown, status=LinkStatus.BROKEN, reason="404")}
    (result,) = check_rules(Matcher(runbook), [_rule("Gone", written)], links)
    assert result.why == [shown] and "s3cr3t" not in render_results([result])


def test_an_alert_repeated_at_several_severities_is_checked_once(runbook: Runbook) -> None:
    results = check_rules(
        Matcher(runbook), [_rule("DiskFull"), _rule("DiskFull"), _rule("DiskFull", "x")], {}
    )
    assert [r.title for r in results] == ["DiskFull", "DiskFull"]


RULES = """
groups:
  - name: storage
    rules:
      - record: job:disk_used:ratio
        expr: sum(x) by (job)
      - alert: DiskFull
        expr: x > 0.9
        labels: {severity: page}
        annotations:
          runbook_url: https://github.com/acme/rb/blob/main/runbook.md#diskfull
      - alert: NodeDown
        expr: up == 0
  - name: empty
"""


def test_a_rule_file_gives_its_alerting_rules_and_skips_recording_rules() -> None:
    assert parse_rules(RULES, "alerts/storage.yaml") == [
        RuleAlert(
            alert="DiskFull",
            runbook_url="https://github.com/acme/rb/blob/main/runbook.md#diskfull",
            file="alerts/storage.yaml",
            group="storage",
        ),
        RuleAlert(alert="NodeDown", runbook_url=None, file="alerts/storage.yaml", group="storage"),
    ]


def test_prometheus_rule_manifests_are_read_too() -> None:
    manifest = (
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n"
        + "\n".join("  " + line for line in RULES.strip().splitlines())
    )
    two = manifest + "\n---\n" + manifest.replace("DiskFull", "DiskFullSoon")
    assert [r.alert for r in parse_rules(two, "m.yaml")] == [
        "DiskFull",
        "NodeDown",
        "DiskFullSoon",
        "NodeDown",
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("groups: [\n  - name: x\n", "is not YAML at line"),
        ("", "is empty"),
        ("# Runbook\n\nSome markdown, not rules.\n", "is not a Prometheus rule file"),
        ("alerts:\n  - alert: X\n", "is not a Prometheus rule file"),
        ("groups:\n  - just a string\n", "group 1 is not a mapping"),
        ("groups:\n  - name: g\n    rules: {alert: X}\n", "group g has 'rules:' that is not a list"),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up == 0\n",
            "rule 1 of group g has neither 'alert' nor 'record'",
        ),
        ("groups:\n  - name: g\n    rules:\n      - alert: [a, b]\n", "'alert' is not a name"),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: X\n        annotations: [a]\n",
            "(X): 'annotations' is not a mapping",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: X\n        annotations: {runbook_url: 3}\n",
            "'runbook_url' is not a string",
        ),
        ("groups:\n  - name: g\n    rules:\n      - alert: !!python/object:os.system x\n", "is not YAML"),
    ],
)
def test_a_rule_file_in_another_shape_is_refused_in_one_line_naming_it(text: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        parse_rules(text, "alerts/bad.yaml")
    message = str(err.value)
    assert "alerts/bad.yaml" in message and says in message and "\n" not in message


def test_results_text_puts_problems_first_and_counts_them(runbook: Runbook) -> None:
    url = "https://example.com/gone"
    links = {url: LinkCheck(url=url, status=LinkStatus.BROKEN, reason="404 Not Found")}
    results: list[CheckResult] = check_titles(Matcher(runbook), ["HighErrorRate", "NodeDown"])
    results += check_rules(Matcher(runbook), [_rule("Gone", url)], links)
    lines = render_results(results).splitlines()
    assert lines[0] == "BROKEN Gone: 404 Not Found"
    assert lines[1] == "GAP    NodeDown: no runbook entry"
    assert lines[2].startswith("ok     HighErrorRate -> HighErrorRate at line")
    assert lines[-1] == "3 checked: 1 covered, 1 gap, 1 broken link"


def test_a_covered_line_shows_what_its_entry_lacks(runbook: Runbook) -> None:
    (queue,) = check_titles(Matcher(runbook), ["QueueDepthHigh"])
    assert queue.flags == ["no Mitigation", "stub"] and "flags" not in queue.json_line()
    line = render_results([queue]).splitlines()[0]
    assert line.startswith("ok     QueueDepthHigh -> QueueDepthHigh at line ")
    assert line.endswith(" [no Mitigation, stub] (by words: queuedepthhigh)")


def test_a_broken_link_with_no_reason_still_names_the_link(runbook: Runbook) -> None:
    url = "https://example.com/gone"
    (gone,) = check_rules(
        Matcher(runbook), [_rule("Gone", url)], {url: LinkCheck(url=url, status=LinkStatus.BROKEN, reason="")}
    )
    assert render_results([gone]).splitlines()[0] == f"BROKEN Gone: links to {url}, which does not exist"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("groups: [\n  - name: x\n", "is not YAML at line"),
        ("groups:\n  - name: g\n    rules:\n      - alert: !!python/object:os.system x\n", "is not YAML"),
    ],
)
def test_without_libyaml_the_pure_python_safe_loader_refuses_the_same(
    monkeypatch: pytest.MonkeyPatch, text: str, says: str
) -> None:
    import yaml

    from oncall import runbook_check

    monkeypatch.setattr(runbook_check, "_SAFE_LOADER", yaml.SafeLoader)
    with pytest.raises(InputError, match=says):
        parse_rules(text, "alerts/bad.yaml")
    assert [r.alert for r in parse_rules(RULES, "ok.yaml")] == ["DiskFull", "NodeDown"]
