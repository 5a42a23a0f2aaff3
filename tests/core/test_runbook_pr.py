"""The draft pull request's plan and the file edit it makes, from plain data."""

from __future__ import annotations

import re
from datetime import timedelta

from oncall.coverage import Matcher
from oncall.gap_render import issue_body
from oncall.gaps import Act, KindCoverage, assess_coverage, fingerprint, index_gap_issues, plan_gap_actions
from oncall.models import IssueRef
from oncall.runbook import EntryForm, Layout, Runbook, parse_runbook
from oncall.runbook_pr import (
    NOTES_PER_KIND,
    GapIssue,
    branch_name,
    entry_marker,
    has_entry,
    insert_entry,
    notes_of,
    notes_wanted,
    plan_pull,
    pull_candidates,
)
from tests.factories import START, alert, runbook_entry

TEXT = """# Runbook

## Disks

### DiskUsageWarning xqwatcher

_Diagnosis_

```bash
## not a heading: a shell comment
df -h
```

_Mitigation_

Grow the volume.

## Vault

### VaultSealed

_Diagnosis_

x

_Mitigation_

y
"""
BOOK = parse_runbook(TEXT, source="o/rb:docs/oncall.md@main").model_copy(
    update={"repo": "o/rb", "ref": "main", "root": "docs/oncall.md"}
)
EDX = "[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (edxapp ip-10-1-1-1)"


def _gap(n: int) -> GapIssue:
    return GapIssue(number=n, html_url=f"https://github.com/o/gaps/issues/{n}")


def _issue(n: int, body: str = "", state: str = "open") -> IssueRef:
    return IssueRef(
        number=n, title="t", body=body, state=state, html_url=f"https://github.com/o/gaps/issues/{n}"
    )


def _kc(title: str = EDX, book: Runbook = BOOK) -> KindCoverage:
    [kc] = assess_coverage([alert(title)], Matcher(book))
    return kc


def test_the_branch_derives_from_the_kinds_fingerprint() -> None:
    kc = _kc()
    assert branch_name(kc.fingerprint) == f"oncall-flows/runbook-gap-{fingerprint(kc.kind)}"
    assert branch_name(_kc(EDX.replace("1-1-1", "2-2-2")).fingerprint) == branch_name(kc.fingerprint)


def test_candidates_are_open_gap_issues_filed_now_or_before() -> None:
    cov = assess_coverage(
        [alert(EDX), alert("[FIRING:1] VaultAbsent qa (vault)"), alert("[FIRING:1] Quiet x (y)")],
        Matcher(BOOK),
    )
    edx, vault, quiet = sorted(cov, key=lambda k: k.kind)[:1] + sorted(cov, key=lambda k: k.kind)[1:]
    existing = index_gap_issues(
        [
            _issue(3, issue_body(vault, BOOK, "UTC")),
            _issue(4, issue_body(quiet, BOOK, "UTC"), state="closed"),
        ]
    )
    filed = {edx.fingerprint: _issue(9).html_url}
    found = pull_candidates(cov, existing, filed)
    # The open one filed before first, then this run's.
    assert [(kc.kind, i.number) for kc, i in found] == [(vault.kind, 3), (edx.kind, 9)]
    # A kind held back by the cap has no issue yet, so no pull request either.
    held = [a for a in plan_gap_actions(cov, {}, Matcher(BOOK), max_issues=0) if a.act is Act.HOLD]
    assert held and pull_candidates(cov, {}, {}) == []


def test_the_plan_closes_the_gap_issue_in_either_repository() -> None:
    kc = _kc()
    same = plan_pull(kc, _gap(7), "o/rb", BOOK)
    assert same.body.startswith("Closes #7\n") and same.repo == "o/rb" and same.base == "main"
    other = plan_pull(kc, _gap(7), "o/gaps", BOOK)
    assert other.body.startswith("Closes o/gaps#7\n")
    assert other.path == "docs/oncall.md" and other.product == "Disks"
    assert entry_marker(kc.fingerprint) in other.entry and other.branch == branch_name(kc.fingerprint)


def test_the_entry_goes_at_the_end_of_its_product_section() -> None:
    kc = _kc()
    plan = plan_pull(kc, _gap(7), "o/gaps", BOOK)
    out = insert_entry(TEXT, plan, BOOK.entry_level)
    assert has_entry(out, kc.fingerprint) and not has_entry(TEXT, kc.fingerprint)
    lines = out.splitlines()
    at, vault = lines.index("### DiskUsageWarning edxapp"), lines.index("## Vault")
    assert lines.index("Grow the volume.") < at < vault
    assert lines[at - 1] == "" and lines[vault - 1] == "" and lines[vault - 2] != ""
    rest = re.sub(r"\n{3,}", "\n\n", out.replace(plan.entry.rstrip("\n"), ""))
    assert rest.strip() == TEXT.strip()  # nothing else changed
    reparsed = parse_runbook(out)
    assert Matcher(reparsed).match(EDX) is not None  # the new entry covers its alert


def test_an_unmatched_product_appends_the_entry_at_the_end() -> None:
    kc = _kc("Something odd happened")
    plan = plan_pull(kc, _gap(7), "o/rb", BOOK)
    assert plan.product is None and "no product heading matched" in plan.body
    out = insert_entry(TEXT, plan, BOOK.entry_level)
    assert out.startswith(TEXT.rstrip("\n")) and out.rstrip("\n").endswith(plan.entry.rstrip("\n"))


def test_alert_text_pings_nobody_in_any_part_of_the_pull_request() -> None:
    """The kind is alert text, so it lands escaped in the title and the commit message (plain
    text GitHub links mentions in) as in the body and the entry (markdown)."""
    kc = _kc("WidgetDown for @ops <b>now</b>")
    plan = plan_pull(kc, _gap(7), "o/rb", BOOK)
    for text in (plan.title, plan.commit_message, plan.body, plan.entry):
        assert "@ops" not in text and "WidgetDown" in text, text
    assert "<b>" not in plan.body and "<b>" not in plan.entry and plan.body.startswith("Closes #7\n")


def test_notes_prefill_diagnosis_escaped_and_cut() -> None:
    kc = _kc()
    hostile = "@here ran <script>x</script> #12 " + "y" * 1000
    plan = plan_pull(kc, _gap(7), "o/rb", BOOK, [hostile, "restarted edxapp"])
    assert "restarted edxapp" in plan.entry and "<script" not in plan.entry and "@here" not in plan.entry
    assert max(len(line) for line in plan.entry.splitlines()) < 400
    assert len(notes_wanted(_kc())) <= NOTES_PER_KIND
    [kc] = assess_coverage([alert(EDX, at=START + timedelta(minutes=i)) for i in range(7)], Matcher(BOOK))
    ids = notes_wanted(kc)
    assert ids == [a.id for a in kc.alerts[-NOTES_PER_KIND:]]
    said = {kc.alerts[0].id: ["too old"], ids[0]: ["older"], ids[-1]: ["newest", "then"]}
    assert notes_of(kc, said) == ["newest", "then", "older"]


def test_a_table_gets_a_row_after_its_products_last_row() -> None:
    text = "# Alerts\n\n## Disks\n\n| Alert | Diagnosis | Mitigation |\n|---|---|---|\n| DiskFull | df | grow |\n\n## Vault\n\n| Alert | Diagnosis | Mitigation |\n|---|---|---|\n| VaultSealed | x | y |\n"
    entries = (
        runbook_entry("DiskFull", "Disks", line=7, anchor="disks", form=EntryForm.ROW),
        runbook_entry("VaultSealed", "Vault", line=13, anchor="vault", form=EntryForm.ROW),
    )
    book = Runbook(
        source="o/rb:t.md",
        entries=entries,
        products=("Disks", "Vault"),
        layout=Layout.TABLE,
        repo="o/rb",
        root="t.md",
    )
    kc = _kc("[FIRING:1] DiskAbsent prod (disks)", book)
    plan = plan_pull(kc, _gap(2), "o/rb", book)
    lines = insert_entry(text, plan, book.entry_level).splitlines()
    assert lines[lines.index("| DiskFull | df | grow |") + 1].startswith("| DiskAbsent |")


def test_a_files_layout_adds_the_file_under_the_root() -> None:
    entry = runbook_entry(
        "VaultSealed",
        "vault",
        name="VaultSealed",
        path="vault/VaultSealed.md",
        form=EntryForm.FILE,
    )
    book = Runbook(
        source="o/rb:runbooks@main",
        entries=(entry,),
        products=("vault",),
        layout=Layout.FILES,
        section_marker="## {}",
        sections=("Summary", "Diagnosis", "Mitigation"),
        repo="o/rb",
        ref="main",
        root="runbooks",
    )
    plan = plan_pull(_kc("[FIRING:1] VaultAbsent qa (vault)", book), _gap(2), "o/rb", book)
    assert plan.path == "runbooks/vault/VaultAbsent.md" and plan.entry.startswith("# VaultAbsent\n")
    assert "adds `runbooks/vault/VaultAbsent.md`" in plan.body


def test_a_table_row_has_one_cell_per_column_of_the_fixture_table() -> None:
    from oncall.clients.runbook_files import read_runbook
    from oncall.runbook import RunbookSource
    from tests.factories import FIXTURES

    path = FIXTURES / "runbooks" / "table" / "runbook.md"
    book = read_runbook(RunbookSource.parse(str(path))).model_copy(
        update={"repo": "o/r", "root": "runbook.md"}
    )
    kc = _kc("[FIRING:1] WarehouseDiskGone|Sdb prod (warehouse)", book)
    plan = plan_pull(kc, _gap(3), "o/r", book, ["restarted | it"])
    text = path.read_text(encoding="utf-8")
    lines = insert_entry(text, plan, book.entry_level).splitlines()
    [row] = [ln for ln in lines if ln.startswith("| WarehouseDiskGone")]
    header = next(ln for ln in lines if ln.startswith("| Alert"))

    def cells(line: str) -> int:
        return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))

    assert cells(row) == cells(header) == 1 + len(book.sections)
    assert "restarted" in row and plan.product is not None
    before = lines[lines.index(row) - 1]
    assert before.startswith("| Warehouse")  # right after the product's last row
