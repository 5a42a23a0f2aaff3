from __future__ import annotations

from collections import Counter

import pytest

from oncall.errors import InputError
from oncall.runbook import RunbookSource, github_anchor, parse_runbook
from tests.factories import FIXTURES

REAL = FIXTURES / "real" / "mitodl-oncall-runbook.md"


@pytest.fixture(scope="module")
def real():  # type: ignore[no-untyped-def]
    return parse_runbook(REAL.read_text(), source="mitodl", url="https://github.com/o/r/blob/main/oncall.md")


def test_real_runbook_entries_products_and_lines(real) -> None:  # type: ignore[no-untyped-def]
    assert real.products == (
        "ODL Open Discussions",
        "SaltStack",
        "XQueueWatcher",
        "OVS",
        "Bootcamp Ecommerce",
        "OpenEdX Residential MITx",
        "XPro",
        "MITXOnline",
        "Reddit",
    )
    titles = {e.title: e for e in real.entries}
    assert len(real.entries) == 12
    assert titles["DiskUsageWarning xqwatcher"].product == "XQueueWatcher"
    assert titles["DiskUsageWarning xqwatcher"].line == 112
    assert titles["MemoryUsageWarning operations-<ENVIRONMENT>"].product == "SaltStack"
    # The style guide's example inside a code fence is not an entry, and neither is the style guide.
    assert not any("Style" in e.title for e in real.entries)
    assert real.entry_level == 3 and real.section_marker == "_{}_"


def test_two_headings_sharing_one_body_both_become_entries(real) -> None:  # type: ignore[no-untyped-def]
    reddit = [e for e in real.entries if e.product == "Reddit"]
    assert len(reddit) == 2
    assert all(e.has_diagnosis and e.has_mitigation for e in reddit)


def test_stub_flag_and_anchor_rules(real) -> None:  # type: ignore[no-untyped-def]
    stub = next(e for e in real.entries if e.title.startswith("Grading Celery"))
    assert stub.stub and "stub" in stub.flags
    anchors = {e.title: e.anchor for e in real.entries}
    assert anchors["DiskUsageWarning xqwatcher"] == "diskusagewarning-xqwatcher"
    assert anchors["MemoryUsageWarning operations-<ENVIRONMENT>"] == "memoryusagewarning-operations-"
    assert anchors["ApiException hubspot_xpro.tasks.sync_contact_with_hubspot"] == (
        "apiexception-hubspot_xprotaskssync_contact_with_hubspot"
    )
    assert (
        real.link(real.entries[2]) == "https://github.com/o/r/blob/main/oncall.md#diskusagewarning-xqwatcher"
    )


def test_the_runbooks_own_table_of_contents_links_resolve(real) -> None:  # type: ignore[no-untyped-def]
    """The real file links its product headings by GitHub anchors; ours must agree."""
    import re

    text = REAL.read_text()
    toc = re.findall(r"\]\(#([^)]+)\)", text.split("# Introduction")[0])
    seen: Counter[str] = Counter()
    ours = {github_anchor(m.group(2), seen) for m in re.finditer(r"^(#{1,6}) (.*)$", text, re.M)}
    assert toc and set(toc) <= ours


def test_repeated_headings_get_numbered_anchors() -> None:
    seen: Counter[str] = Counter()
    assert [github_anchor("Diagnosis", seen) for _ in range(3)] == ["diagnosis", "diagnosis-1", "diagnosis-2"]
    assert github_anchor("Use `kubectl` and [docs](http://x)!", Counter()) == "use-kubectl-and-docs"


def test_a_differently_written_runbook() -> None:
    text = """# Payments
## Alerts
### Diagnosis
n/a
# Payments API
## HighLatency payments-api
### Diagnosis
Check p99.
### Mitigation
Scale out.
## QueueBacklog {env}
**Diagnosis:**
Look at the queue.
## OrphanedWorker
TODO
"""
    book = parse_runbook(text)
    titles = {e.title: e for e in book.entries}
    assert set(titles) >= {"HighLatency payments-api", "QueueBacklog {env}", "OrphanedWorker"}
    assert titles["HighLatency payments-api"].has_mitigation
    assert titles["QueueBacklog {env}"].has_diagnosis and not titles["QueueBacklog {env}"].has_mitigation
    assert titles["OrphanedWorker"].stub
    assert titles["HighLatency payments-api"].product == "Payments API"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n\n", "empty"),
        ("<!DOCTYPE html><html><body>hi</body></html>", "does not look like markdown"),
        ('{"entries": []}', "does not look like markdown"),
        ("just some prose\nwith no headings at all\n", "no markdown headings"),
        ("```\n# not a heading\n```\n", "no markdown headings"),
    ],
)
def test_unusable_runbooks_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_runbook(text, source="x.md")


def test_runbook_source_strings() -> None:
    gh = RunbookSource.parse("mitodl/ol-infrastructure:docs/runbooks/oncall.md@main")
    assert (gh.repo, gh.path, gh.ref) == ("mitodl/ol-infrastructure", "docs/runbooks/oncall.md", "main")
    assert gh.web_url() == "https://github.com/mitodl/ol-infrastructure/blob/main/docs/runbooks/oncall.md"
    assert RunbookSource.parse("./oncall.md").repo is None
    assert RunbookSource.parse("file:oncall.md").path == "oncall.md"
    with pytest.raises(InputError):
        RunbookSource.parse("  ")


def test_the_sandbox_serves_the_real_runbook_byte_for_byte() -> None:
    from oncall.sandbox.seed import RUNBOOK

    assert RUNBOOK.read_bytes() == REAL.read_bytes()
