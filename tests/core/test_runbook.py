from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from oncall.errors import InputError
from oncall.runbook import (
    RUNBOOK_SUFFIXES,
    EntryForm,
    Layout,
    RunbookSource,
    github_anchor,
    heading_anchors,
    parse_runbook,
    parse_runbook_files,
)
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


# --- the layouts of issue 16, on fixtures written for them -------------------------------------

RUNBOOKS = FIXTURES / "runbooks"


def _documented(layout: str) -> list[str]:
    return (RUNBOOKS / layout / "alerts.txt").read_text().split()


def _layout(layout: str):  # type: ignore[no-untyped-def]
    return parse_runbook((RUNBOOKS / layout / "runbook.md").read_text(), source=f"{layout}/runbook.md")


def _folder(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_real_runbook_gives_exactly_todays_entries() -> None:
    golden = json.loads((FIXTURES / "golden" / "mitodl-answers-153231f.json").read_text())["entries"]
    book = parse_runbook(REAL.read_text(), source="mitodl")
    ours = [
        {"title": e.title, "product": e.product, "line": e.line, "anchor": e.anchor, "flags": e.flags}
        for e in book.entries
    ]
    assert ours == golden
    assert book.layout is Layout.HEADINGS and book.anchors.keys() == {""}


def test_headings_layout_every_documented_alert_is_an_entry() -> None:
    book = _layout("headings")
    keys = [e.key for e in book.entries]
    for name in _documented("headings"):
        assert sum(name in k.split() or name == k for k in keys) == 1, name
    assert book.layout is Layout.HEADINGS and book.entry_level == 3 and book.section_marker == "_{}_"
    pasted = next(e for e in book.entries if "CheckoutLatencyHigh" in e.title)
    assert pasted.title == "[Prometheus]: [FIRING:1] CheckoutLatencyHigh production (checkout-api critical)"
    assert pasted.name == "" and pasted.key == pasted.title  # matching reads a pasted title whole


def test_a_bash_fence_line_inside_an_open_fence_stays_code() -> None:
    book = _layout("headings")
    titles = {e.title: e for e in book.entries}
    assert not any("route" in t for t in titles)  # the shell comments are not headings
    first = titles["HighErrorRate"]
    assert first.has_diagnosis and first.has_mitigation and first.product == "Checkout"
    # Everything after the fence is still text: the next entry keeps its heading and its sections.
    assert titles["PaymentProviderTimeout"].line == 50


def test_products_sit_one_or_two_levels_up_and_the_document_title_is_none() -> None:
    book = _layout("headings")
    product = {e.key: e.product for e in book.entries}
    assert product["NodeNotReachable"] == "Infrastructure"  # an H1 above an H3 entry
    assert product["DiskFull"] == "Storage"
    assert "Platform On-Call Runbook" not in book.products
    one_title = parse_runbook("# Team runbook\n\n### DiskFull\n\n_Diagnosis_\n\ndf -h\n")
    assert one_title.entries[0].product is None


def test_headings_layout_flags_shared_bodies_stubs_and_missing_mitigation() -> None:
    book = _layout("headings")
    entry = {e.key: e for e in book.entries}
    for shared in ("PaymentProviderTimeout", "PaymentProviderUnreachable"):
        assert entry[shared].flags == []
    assert entry["SearchClusterRed"].stub
    assert entry["IndexLagHigh"].flags == ["no Mitigation"]
    bold = next(e for e in book.entries if "SearchQueryRejections" in e.title)
    assert bold.has_diagnosis and bold.has_mitigation  # **Diagnosis** lines count as markers


def test_decorated_headings_give_the_bare_alert_name() -> None:
    book = _layout("decorated")
    assert [e.name for e in book.entries] == _documented("decorated")
    assert [e.key for e in book.entries] == _documented("decorated")
    titles = [e.title for e in book.entries]
    assert "Alert: `WafBlockSpike` [warning]" in titles and '"RateLimitRejectionsHigh"' in titles
    assert all(e.has_diagnosis and e.has_mitigation for e in book.entries)  # `**Diagnosis:** text`


def test_table_rows_are_entries_linking_to_their_section() -> None:
    book = _layout("table")
    text = (RUNBOOKS / "table" / "runbook.md").read_text().split("\n")
    assert book.layout is Layout.TABLE
    assert [e.key for e in book.entries] == _documented("table")
    assert {e.form for e in book.entries} == {EntryForm.ROW}
    assert book.products == ("Ingestion alerts", "Warehouse alerts", "Scheduler")
    for e in book.entries:
        assert e.key in text[e.line - 1] and text[e.line - 1].startswith("|")
        assert e.anchor == {
            "Ingestion alerts": "ingestion-alerts",
            "Warehouse alerts": "warehouse-alerts",
        }.get(e.product or "", "scheduler")
    entry = {e.key: e for e in book.entries}
    assert entry["SchemaRegistryDown"].title == "`SchemaRegistryDown`"
    assert entry["IngestDeadLetterGrowing"].stub  # a row with an empty body
    assert entry["KafkaBrokerOffline"].flags == [] and entry["WarehouseLoadFailed"].flags == []
    assert entry["WarehouseStorageNearQuota"].stub  # a TODO in a short body
    assert book.sections == ("Severity", "Description", "Action")  # a new row's cells after the name
    assert book.link(entry["DagRunFailed"]) is None


def test_a_table_of_contents_linking_to_headings_is_not_a_table_of_entries() -> None:
    text = """# Runbook

## Index

| Alert | Team |
|-------|------|
| [DiskFull](#diskfull) | infra |
| [QueueDepthHigh](#queuedepthhigh) | infra |

## Infra

### DiskFull

_Diagnosis_ df -h

### QueueDepthHigh

_Mitigation_

Scale consumers.
"""
    book = parse_runbook(text)
    assert book.layout is Layout.HEADINGS
    assert [(e.title, e.form, e.product) for e in book.entries] == [
        ("DiskFull", EntryForm.HEADING, "Infra"),
        ("QueueDepthHigh", EntryForm.HEADING, "Infra"),
    ]


def test_section_sub_headings_belong_to_their_entry() -> None:
    book = _layout("sections")
    assert [e.key for e in book.entries] == _documented("sections")
    assert book.sections == ("Summary", "Impact", "Diagnosis", "Mitigation", "Who to wake", "Notes")
    assert book.section_marker == "#### {}" and book.entry_level == 3
    entry = {e.key: e for e in book.entries}
    # Diagnosis comes after Impact, at the same level: it is the entry's, not Impact's.
    assert all(e.has_diagnosis for e in book.entries)
    assert entry["TokenSigningKeyRotationOverdue"].flags == ["no Mitigation"]
    assert not entry["LedgerMismatch"].stub  # a TODO in a long body is not a stub
    assert book.products == ("Identity", "Billing", "Messaging")


def test_a_title_repeated_under_many_products_is_still_an_entry() -> None:
    text = "".join(f"## {p}\n\n### HighErrorRate\n\n_Diagnosis_\n\nlook\n\n" for p in ("A", "B", "C", "D"))
    book = parse_runbook(text)
    assert [(e.title, e.product) for e in book.entries] == [("HighErrorRate", p) for p in "ABCD"]
    assert len({e.anchor for e in book.entries}) == 4


def test_a_todo_anywhere_in_a_short_body_is_a_stub() -> None:
    text = (
        "## P\n\n### DiskFull\n\n_Diagnosis_\n\n"
        + "Check the disk usage dashboard for the host. " * 4
        + "TODO: link it.\n\n_Mitigation_\n\nrotate logs\n"
    )
    entry = parse_runbook(text).entries[0]
    assert entry.stub and entry.has_diagnosis and entry.has_mitigation


def test_files_layout_one_entry_per_alert_file() -> None:
    root = RUNBOOKS / "files"
    book = parse_runbook_files(_folder(root), source="files", url="https://github.com/o/r/tree/main/runbooks")
    assert book.layout is Layout.FILES
    assert sorted(e.name for e in book.entries) == sorted(_documented("files"))
    assert len(book.entries) >= 20 and {e.form for e in book.entries} == {EntryForm.FILE}
    for e in book.entries:
        assert e.path == f"{e.product}/{e.name}.md" and e.anchor == ""
    assert book.products == ("etcd", "kubernetes", "node", "prometheus")
    assert book.sections == ("Summary", "Impact", "Diagnosis", "Mitigation", "Notes")
    assert book.section_marker == "## {}"
    entry = {e.name: e for e in book.entries}
    assert entry["KubeHpaMaxedOut"].flags == ["no Mitigation"]
    assert entry["KubeNodeNotReady"].title == "Kube Node Not Ready" and entry["KubeNodeNotReady"].line == 6
    assert entry["KubePodCrashLooping"].flags == []
    assert book.link(entry["KubePodCrashLooping"]) == (
        "https://github.com/o/r/tree/main/runbooks/kubernetes/KubePodCrashLooping.md"
    )
    # Index pages and helper pages are not entries, but their anchors are known.
    assert set(book.anchors) == set(_folder(root)) - {"alerts.txt", "near-misses.txt"}
    assert "getting-a-shell-on-a-node" in book.anchors["general/useful-commands.md"]
    assert "diagnosis" in book.anchors["node/NodeFilesystemSpaceFillingUp.md"]


def test_front_matter_is_not_a_heading() -> None:
    text = (RUNBOOKS / "files" / "kubernetes" / "KubeNodeNotReady.md").read_text()
    assert text.startswith("---\ntitle:")
    anchors = heading_anchors(text)
    assert "kube-node-not-ready" in anchors
    assert not any(a.startswith("title") or a.startswith("weight") for a in anchors)


def test_a_folder_of_heading_runbooks_gives_heading_entries_with_paths() -> None:
    files = {
        "teams/payments.md": "# Payments\n\n### CardDeclineSpike\n\n_Diagnosis_\n\nlook\n\n_Mitigation_\n\nfix\n",
        "teams/search.md": "# Search\n\n## Cluster\n\n### SearchClusterRed\n\n_Diagnosis_\n\nlook\n",
        "README.md": "# Runbooks\n\nOne file per team.\n",
    }
    book = parse_runbook_files(files, source="docs")
    assert book.layout is Layout.HEADINGS
    got = [(e.title, e.path, e.product, e.form, e.anchor) for e in book.entries]
    assert got == [
        ("CardDeclineSpike", "teams/payments.md", "Payments", EntryForm.HEADING, "carddeclinespike"),
        ("SearchClusterRed", "teams/search.md", "Cluster", EntryForm.HEADING, "searchclusterred"),
    ]


def test_anchors_come_from_the_rendered_heading_like_githubs() -> None:
    text = "# Use `kubectl` *now* <b>x</b> [docs](http://x) ![img](i.png)\n\n## C# & F#\n\n## C# & F#\n"
    assert heading_anchors(text) == {"use-kubectl-now-x-docs-", "c--f", "c--f-1"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("bad/sections-only.md", "only section headings"),
        ("bad/saved-page.md", "does not look like markdown"),
        ("bad/runbook.json", "does not look like markdown"),
    ],
)
def test_bad_runbook_files_are_refused_naming_the_path(path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_runbook((RUNBOOKS / path).read_text(), source=path)
    assert path in str(err.value)


def test_bad_folders_are_refused_naming_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "runbooks"
    empty.mkdir()
    with pytest.raises(InputError, match="no markdown") as err:
        parse_runbook_files(_folder(empty), source=str(empty))
    assert str(empty) in str(err.value)
    with pytest.raises(InputError, match="no markdown"):
        parse_runbook_files({"rules.yaml": "groups: []\n", "runbook.json": "{}"}, source="rb")
    with pytest.raises(InputError, match=r"rb/x/saved-page\.md does not look like markdown"):
        parse_runbook_files(
            {"x/saved-page.md": (RUNBOOKS / "bad" / "saved-page.md").read_text()}, source="rb"
        )
    with pytest.raises(InputError, match="no entries"):
        parse_runbook_files(
            {"README.md": "# Runbooks\n\nSoon.\n", "notes.md": "# Notes\n\nhi\n"}, source="rb"
        )


def test_a_600_kb_runbook_parses_well_under_half_a_second() -> None:
    parts = ["# Runbook", ""]
    for p in range(60):
        parts += [f"## Product {p}", ""]
        for e in range(24):
            parts += [
                f"### [Prometheus]: [FIRING:1] Alert{p}x{e}Name production (app-{e} critical)",
                "",
                "_Diagnosis_",
                "",
                "Check the `dashboard` and **the logs** " * 4,
                "```bash",
                "kubectl get pods -n ns | grep thing  # comment",
                "```",
                "_Mitigation_",
                "",
                "Roll back [the deploy](https://example.com/x). " * 3,
                "",
            ]
    text = "\n".join(parts)
    assert 550_000 < len(text) < 700_000 and text.count("\n#") >= 1_500
    # Its speed (the target is a part of a second) is measured by `make bench`, beside
    # the reader it replaced; here only that it is read whole.
    _timed(text)


def _timed(text: str) -> float:
    start = time.process_time()  # CPU time: other work on a loaded machine does not count against us
    book = parse_runbook(text)
    took = time.process_time() - start
    assert len(book.entries) == 1_440
    return took


def test_web_url_of_a_folder_uses_tree() -> None:
    src = RunbookSource.parse("o/r:docs/runbooks@main")
    assert src.web_url(folder=True) == "https://github.com/o/r/tree/main/docs/runbooks"
    assert src.web_url() == "https://github.com/o/r/blob/main/docs/runbooks"


def test_a_contacts_table_in_a_heading_runbook_gives_no_entries() -> None:
    text = """# Runbook

## Contacts

| Name | Phone |
|------|-------|
| Alice Smith | 555-0100 |

## Infra

### DiskFull

_Diagnosis_

| Alert | Threshold |
|-------|-----------|
| DiskFull | 95% |

_Mitigation_

rotate logs

### QueueDepthHigh

_Diagnosis_

look
"""
    book = parse_runbook(text)
    assert book.layout is Layout.HEADINGS
    assert [(e.title, e.form, e.product) for e in book.entries] == [
        ("DiskFull", EntryForm.HEADING, "Infra"),
        ("QueueDepthHigh", EntryForm.HEADING, "Infra"),
    ]
    assert book.entries[0].has_mitigation


def test_the_runbooks_own_marker_style_is_kept() -> None:
    assert _layout("decorated").section_marker == "**{}:**"
    bold = parse_runbook("## P\n\n### DiskFull\n\n**Diagnosis**\n\ndf -h\n\n**Mitigation**\n\nrotate\n")
    assert bold.section_marker == "**{}**"


def test_templates_and_dot_folders_are_not_entries() -> None:
    page = "# Kube Pod Crash Looping\n\n## Diagnosis\n\nlook\n\n## Mitigation\n\nfix\n"
    files = {
        "kubernetes/KubePodCrashLooping.md": page,
        "_template.md": "# AlertName\n\n## Diagnosis\n\n## Mitigation\n",
        ".github/PULL_REQUEST_TEMPLATE.md": "## Summary\n\n## Notes\n",
        "general/sections-only.md": (RUNBOOKS / "bad" / "sections-only.md").read_text(),
    }
    book = parse_runbook_files(files, source="rb")
    assert [e.path for e in book.entries] == ["kubernetes/KubePodCrashLooping.md"]
    assert set(book.anchors) == set(files)
    with pytest.raises(InputError, match="rb has markdown but no entries"):
        parse_runbook_files({"general/sections-only.md": files["general/sections-only.md"]}, source="rb")


def test_a_diagnosis_nested_under_impact_still_belongs_to_the_entry() -> None:
    text = """# Runbook

## Billing

### InvoiceRunDelayed

#### Impact

Invoices are late.

##### Diagnosis

Look at the queue.

#### Mitigation

Re-run the batch.

### LedgerMismatch

#### Impact

Reports are wrong.
"""
    book = parse_runbook(text)
    assert [(e.title, e.flags) for e in book.entries] == [
        ("InvoiceRunDelayed", []),
        ("LedgerMismatch", ["no Diagnosis", "no Mitigation"]),
    ]
    assert book.section_marker == "#### {}"


def test_markdown_suffixes_are_both_read() -> None:
    page = "# Disk Full\n\n## Diagnosis\n\ndf -h\n\n## Mitigation\n\nrotate logs\n"
    book = parse_runbook_files({"node/DiskFull.markdown": page, "node/DiskFull.txt": page}, source="rb")
    assert [e.path for e in book.entries] == ["node/DiskFull.markdown"] and book.anchors.keys() == {
        "node/DiskFull.markdown"
    }
    assert ".markdown" in RUNBOOK_SUFFIXES


def test_a_runbook_opening_with_a_link_is_markdown_but_a_json_list_is_not() -> None:
    book = parse_runbook(
        "[Back to the index](README.md)\n\n## Infra\n\n### DiskFull\n\n_Diagnosis_\n\ndf -h\n"
    )
    assert [e.title for e in book.entries] == ["DiskFull"]
    with pytest.raises(InputError, match=r"x\.md does not look like markdown"):
        parse_runbook('[{"title": "DiskFull"}]', source="x.md")


def test_a_sub_heading_template_of_unknown_titles_is_still_sections() -> None:
    text = "# Runbook\n\n## Payments\n\n" + "".join(
        f"### {name}\n\n#### What it means\n\nx\n\n#### What to do\n\ny\n\n#### Who to call\n\nz\n\n"
        for name in ("CardDeclineSpike", "RefundQueueStuck", "PayoutDelayed")
    )
    book = parse_runbook(text)
    assert [(e.title, e.product) for e in book.entries] == [
        ("CardDeclineSpike", "Payments"),
        ("RefundQueueStuck", "Payments"),
        ("PayoutDelayed", "Payments"),
    ]
    assert book.sections == ("What it means", "What to do", "Who to call")


def test_the_same_alerts_under_every_product_are_entries_not_a_template() -> None:
    text = "# Runbook\n\n" + "".join(
        f"## {p}\n\n### HighErrorRate\n\nCheck the {p} dashboard.\n\n### HighLatency\n\nCheck p99.\n\n"
        for p in ("Checkout", "Search", "Billing")
    )
    book = parse_runbook(text)
    assert [(e.title, e.product) for e in book.entries] == [
        (t, p) for p in ("Checkout", "Search", "Billing") for t in ("HighErrorRate", "HighLatency")
    ]


# -- files as editors save them, and hostile input ----------------------------------------------

_BODY = "_Diagnosis_\n\nLook.\n\n_Mitigation_\n\nFix.\n"
_PLAIN = f"# Ops\n\n## Database\n\n### DiskFull\n\n{_BODY}\n### QueueDepthHigh\n\n{_BODY}"


def _shape(text: str) -> list[tuple[str, str | None, int, str, list[str]]]:
    return [(e.title, e.product, e.line, e.anchor, e.flags) for e in parse_runbook(text).entries]


@pytest.mark.parametrize(
    "saved",
    [
        _PLAIN.replace("\n", "\r\n"),  # Windows
        _PLAIN.replace("\n", "\r"),  # classic Mac
        "\ufeff" + _PLAIN,  # a byte order mark
        "\ufeff" + _PLAIN.replace("\n", "\r\n"),
        "\ufeff---\r\ntitle: Ops\r\nowner: dba\r\n---\r\n" + _PLAIN.replace("\n", "\r\n"),
    ],
)
def test_crlf_and_a_byte_order_mark_read_as_a_plain_file(saved: str) -> None:
    want = _shape(_PLAIN)
    got = _shape(saved)
    if saved.lstrip("\ufeff").startswith("---"):  # four lines of front matter: lines kept as GitHub counts
        want = [(t, p, line + 4, a, f) for t, p, line, a, f in want]
    assert got == want and len(got) == 2
    assert heading_anchors(saved) >= {"diskfull", "queuedepthhigh", "database"}


def test_setext_headings_are_headings() -> None:
    text = f"Ops\n===\n\nDatabase\n--------\n\n### DiskFull\n\n{_BODY}\n### QueueDepthHigh\n\n{_BODY}"
    book = parse_runbook(text)
    assert [(e.title, e.product, e.line) for e in book.entries] == [
        ("DiskFull", "Database", 7),
        ("QueueDepthHigh", "Database", 17),
    ]
    setext_entries = (
        "Ops\n===\n\nDiskFull\n--------\n\n" + _BODY + "\nQueueDepthHigh\n--------------\n\n" + _BODY
    )
    assert [e.title for e in parse_runbook(setext_entries).entries] == ["DiskFull", "QueueDepthHigh"]
    assert heading_anchors(setext_entries) == {"ops", "diskfull", "queuedepthhigh"}


def test_a_file_runbook_saved_with_a_bom_and_crlf_keeps_its_front_matter_title_and_template() -> None:
    page = (
        "\ufeff---\r\ntitle: Disk Full\r\n---\r\n\r\n## Summary\r\n\r\nThe disk is full.\r\n\r\n"
        "## Diagnosis\r\n\r\nLook.\r\n\r\n## Mitigation\r\n\r\nFix.\r\n"
    )
    book = parse_runbook_files({"db/DiskFull.md": page, "db/README.md": "\ufeff# DB\r\n"}, source="f")
    assert [(e.title, e.name, e.product, e.flags) for e in book.entries] == [
        ("Disk Full", "DiskFull", "db", [])
    ]
    assert book.sections == ("Summary", "Diagnosis", "Mitigation")
    spelled = "---\r\ntitle: 'Disk Full'\r\n---\r\n\r\n## Mitigation\r\n\r\nFix.\r\n"
    named = parse_runbook_files({"db/disk-full.md": spelled, "db/DiskFull.md": page}, source="f")
    assert [e.title for e in named.entries] == ["Disk Full", "Disk Full"]


def test_html_headings_are_refused_saying_to_write_markdown_ones() -> None:
    with pytest.raises(InputError) as err:
        parse_runbook("<h1>Ops</h1>\n\n<h2>DiskFull</h2>\n\n" + _BODY, source="ops.md")
    message = str(err.value)
    assert "ops.md" in message and "HTML <h1>-<h6>" in message and "\n" not in message
    mixed = parse_runbook("# Ops\n\n<h2>Old</h2>\n\n## DiskFull\n\n" + _BODY)
    assert [e.title for e in mixed.entries] == ["DiskFull"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\ufeff", "is empty"),
        ("\ufeff\r\n\r\n", "is empty"),
        ("\ufeff<!DOCTYPE html><html></html>", "does not look like markdown"),
        ("\ufeff[1, 2]", "does not look like markdown"),
        ("# Ops\n\n## Disk\x00Full\n", "does not look like markdown"),
    ],
)
def test_a_bom_never_hides_what_a_file_is(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_runbook(text, source="x.md")
    assert message in str(err.value) and "x.md" in str(err.value) and "\n" not in str(err.value)


def test_tabs_read_as_commonmark_reads_them() -> None:
    book = parse_runbook(
        "#\tOps\n\n##\tDiskFull\n\n_Diagnosis_\n\n\tindented code, not a marker\n\n_Mitigation_\n\nFix.\n"
    )
    assert [(e.title, e.anchor) for e in book.entries] == [("DiskFull", "diskfull")]


# A hang guard, not a speed target (those are in `make bench`): each shape below took from
# seconds to minutes before its fix, and takes milliseconds now.
HANG = 5.0


def _cpu(text: str) -> tuple[float, int]:
    start = time.process_time()  # CPU time: other work on a loaded machine does not count against us
    book = parse_runbook(text)
    return time.process_time() - start, len(book.entries)


def test_hostile_shapes_parse_in_linear_time() -> None:
    deep = "# Ops\n\n## DiskFull\n\n" + "> " * 5_000 + "x\n\n" + "[" * 50_000 + "\n\n" + _BODY
    took, n = _cpu(deep)
    assert n == 1 and took < HANG, took
    many = "# Ops\n\n" + "".join(
        (f"## P{i // 10}\n\n" if i % 10 == 0 else "") + f"### Alert{i}Down\n\n{_BODY}\n"
        for i in range(10_000)
    )
    took, n = _cpu(many)
    assert n == 10_000 and took < 2 * HANG, took  # ~1.5 s of CPU
    columns = " | ".join(f"c{i}" for i in range(1_000))
    wide = f"# Ops\n\n## Alerts\n\n| Alert | {columns} |\n|{'---|' * 1_001}\n" + "".join(
        f"| A{r}Down | " + " | ".join("v" for _ in range(1_000)) + " |\n" for r in range(20)
    )
    took, n = _cpu(wide)
    assert n == 20 and took < HANG, took
    emphasis = "# Ops\n\n## " + "*a_" * 20_000 + "\n\n" + _BODY
    took, n = _cpu(emphasis)
    assert n == 1 and took < HANG, took


def test_an_empty_heading_is_no_entry() -> None:
    book = parse_runbook(f"# Ops\n\n## Database\n\n###\n\n{_BODY}\n### \n\n{_BODY}\n### DiskFull\n\n{_BODY}")
    assert [(e.title, e.product, e.line) for e in book.entries] == [("DiskFull", "Database", 25)]
    with pytest.raises(InputError) as err:
        parse_runbook(f"# \n\n##\n\n{_BODY}", source="blank.md")
    assert "blank.md" in str(err.value)


def test_an_empty_page_in_a_folder_is_skipped_with_or_without_a_bom() -> None:
    page = "# QueueDepthHigh\n\n## Mitigation\n\nFix.\n"
    for empty in ("", "\n\n", "\ufeff", "\ufeff\r\n"):
        book = parse_runbook_files({"db/DiskFull.md": empty, "db/QueueDepthHigh.md": page}, source="f")
        assert [e.name for e in book.entries] == ["QueueDepthHigh"], repr(empty)
        assert book.anchors["db/DiskFull.md"] == frozenset()


def test_a_file_that_is_only_a_table_of_alerts_is_a_table_runbook() -> None:
    book = parse_runbook(
        "| Alert | Action |\n|---|---|\n| DiskFull | Grow the volume |\n| QueueDepthHigh | Drain |\n",
        source="alerts.md",
        url="https://github.com/acme/rb/blob/main/alerts.md",
    )
    assert book.layout is Layout.TABLE and book.sections == ("Action",)
    assert [(e.title, e.product, e.line, e.anchor, e.form) for e in book.entries] == [
        ("DiskFull", None, 3, "", EntryForm.ROW),
        ("QueueDepthHigh", None, 4, "", EntryForm.ROW),
    ]
    assert book.link(book.entries[0]) == "https://github.com/acme/rb/blob/main/alerts.md"
    with pytest.raises(InputError, match=r"alerts\.md has no markdown headings"):
        parse_runbook("| Owner | Phone |\n|---|---|\n| Ana | 1 |\n", source="alerts.md")


def test_an_entry_link_quotes_its_path_as_a_url_needs() -> None:
    page = "# Disk Full\n\n## Mitigation\n\nFix.\n"
    book = parse_runbook_files(
        {"db/Disk Full.md": page, "db/QueueDepthHigh#2.md": "# QueueDepthHigh\n\n## Mitigation\n\nFix.\n"},
        source="f",
        url="https://github.com/acme/rb/tree/main/alerts",
    )
    links = sorted(link for e in book.entries if (link := book.link(e)))
    assert links == [
        "https://github.com/acme/rb/tree/main/alerts/db/Disk%20Full.md",
        "https://github.com/acme/rb/tree/main/alerts/db/QueueDepthHigh%232.md",
    ]


@pytest.mark.parametrize(
    "line",
    ["Diagnosis" + " " * 5_000 + "x", "_Diagnosis" + " " * 5_000 + "x", "**Mitigation" + "\t" * 5_000 + ":x"],
    ids=["word", "emphasis", "tabs"],
)
def test_a_long_run_of_spaces_after_a_section_word_is_read_in_linear_time(line: str) -> None:
    start = time.process_time()
    book = parse_runbook(f"# Ops\n\n## DiskFull\n\nLook.\n{line}\n\n_Mitigation_\n\nFix.\n")
    took = time.process_time() - start
    assert [e.title for e in book.entries] == ["DiskFull"] and took < HANG, took


def test_marker_lines_with_spaces_inside_still_mark_their_section() -> None:
    text = "# Ops\n\n## DiskFull\n\n_Diagnosis_   \n\nLook.\n\n**  Mitigation  :**\n\nFix.\n"
    book = parse_runbook(text)
    assert [(e.has_diagnosis, e.has_mitigation) for e in book.entries] == [(True, True)]
