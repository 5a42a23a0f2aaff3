"""Runbook links on alerts: reading them off every source's fields, and checking links into the repo."""

from __future__ import annotations

import time

import pytest

from oncall.links import LinkStatus, check_in_repo, known_in_runbook, redact, repo_target, runbook_url
from oncall.runbook import EntryForm, Layout, Runbook, RunbookEntry
from oncall.sources.genie import alert_from_raw
from oncall.sources.rootly.records import alert_from_resource
from tests.factories import alert, runbook_entry

DOCS = "https://runbooks.example.org/db/DiskFull.md"

# Alertmanager's default OpsGenie description (template/default.tmpl, `opsgenie.default.description`):
# the common annotations' values joined by spaces, then per alert its labels, its annotations
# (` - name = value`, sorted by name) and `Source: <generator URL>`.
AM_DESCRIPTION = (
    "The disk is full https://runbooks.example.org/db/DiskFull.md\n"
    "Alerts Firing:\n"
    "Labels:\n"
    " - alertname = DiskFull\n"
    " - instance = db-1:9100\n"
    "Annotations:\n"
    " - runbook_url = https://runbooks.example.org/db/DiskFull.md\n"
    " - summary = The disk is full\n"
    "Source: http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes\n"
)


def test_the_runbook_url_from_opsgenie_details_in_each_spelling() -> None:
    for key in ("runbook_url", "runbookUrl", "RUNBOOK_URL", "runbook", "runbook_link", "Runbook-URL"):
        assert runbook_url(alert(details={"severity": "page", key: f"  {DOCS}  "})) == DOCS, key
    assert runbook_url(alert(details={"severity": "page"})) is None
    assert runbook_url(alert()) is None


def test_runbook_url_beats_the_looser_names() -> None:
    details = {"runbook": "https://wiki.example.org/old", "runbook_url": DOCS}
    assert runbook_url(alert(details=details)) == DOCS


def test_the_runbook_url_from_alertmanagers_default_description() -> None:
    assert runbook_url(alert(description=AM_DESCRIPTION)) == DOCS


def test_the_generator_url_and_bare_values_are_never_taken_for_the_runbook() -> None:
    text = AM_DESCRIPTION.replace(" - runbook_url = https://runbooks.example.org/db/DiskFull.md\n", "")
    assert runbook_url(alert(description=text)) is None


def test_only_http_links_and_trailing_punctuation_dropped() -> None:
    for bad in (
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.org/runbook",
        "//runbooks.example.org/x",
        "db/DiskFull.md",
        "https://",
        "https://runbooks.example.org/" + "a" * 5000,
        "https://runbooks.example.org/a b",
        "https://runbooks.example.org/\u202eevil.exe",
        "https://runbooks.example.org/a\u200bb",
        "https://runbooks.example.org/a\x00b",
    ):
        assert runbook_url(alert(details={"runbook_url": bad})) is None, bad
    assert runbook_url(alert(details={"runbook_url": f"<{DOCS}>."})) == DOCS
    assert runbook_url(alert(details={"runbook_url": f"{DOCS}),"})) == DOCS
    wiki = "https://en.wikipedia.org/wiki/Disk_(computing)"
    assert runbook_url(alert(details={"runbook_url": wiki})) == wiki
    assert runbook_url(alert(details={"runbook_url": "HTTPS://Runbooks.example.org/x"})) == (
        "https://Runbooks.example.org/x"
    )


def test_a_description_line_in_other_common_forms() -> None:
    assert runbook_url(alert(description=f"Disk full\nRunbook: {DOCS}.")) == DOCS
    assert runbook_url(alert(description=f"See the [runbook]({DOCS}) first")) == DOCS


def test_opsgenie_and_jsm_records_carry_details_and_description() -> None:
    raw = {
        "id": "x1",
        "message": "[FIRING:1] DiskFull",
        "status": "open",
        "createdAt": "2026-11-20T10:00:00Z",
        "description": AM_DESCRIPTION,
        "details": {"alertname": "DiskFull"},
    }
    assert runbook_url(alert_from_raw(raw)) == DOCS


def test_rootly_alert_data_as_alertmanager_sends_it_and_labels() -> None:
    """Rootly keeps the sender's payload in `data`: for Alertmanager, the webhook body with
    `commonAnnotations` and each alert's `annotations`. Nested, so it is flattened to keys."""

    def resource(**attrs: object) -> dict[str, object]:
        base = {"summary": "DiskFull", "status": "triggered", "created_at": "2026-11-20T10:00:00Z"}
        return {"id": "r1", "type": "alerts", "attributes": {**base, **attrs}}

    payload = {
        "status": "firing",
        "alerts": [{"labels": {"alertname": "DiskFull"}, "annotations": {"runbook_url": DOCS}}],
        "commonAnnotations": {"summary": "The disk is full"},
    }
    got = alert_from_resource(resource(data=payload))
    assert got.details is not None and got.details["alerts.0.annotations.runbook_url"] == DOCS
    assert runbook_url(got) == DOCS
    labelled = alert_from_resource(resource(labels=[{"key": "runbook_url", "value": DOCS}]))
    assert runbook_url(labelled) == DOCS


def _entry(
    title: str, *, path: str = "", anchor: str = "", form: EntryForm = EntryForm.HEADING
) -> RunbookEntry:
    return runbook_entry(title, path=path, anchor=anchor, form=form)


FOLDER = Runbook(
    source="acme/runbooks:alerts@main",
    url="https://github.com/acme/runbooks/tree/main/alerts",
    entries=(
        _entry("DiskFull", path="db/DiskFull.md", form=EntryForm.FILE),
        _entry("QueueDepthHigh", path="queue/QueueDepthHigh.md", form=EntryForm.FILE),
    ),
    products=("db", "queue"),
    layout=Layout.FILES,
    anchors={
        "db/DiskFull.md": frozenset({"diskfull", "mitigation", "summary"}),
        "queue/QueueDepthHigh.md": frozenset({"queuedepthhigh", "mitigation"}),
        "README.md": frozenset({"alerts"}),
    },
    repo="acme/runbooks",
    ref="main",
    root="alerts",
)

ONE_FILE = Runbook(
    source="acme/ops:docs/oncall.md",
    url="https://github.com/acme/ops/blob/HEAD/docs/oncall.md",
    entries=(
        _entry("DiskFull", anchor="diskfull"),
        _entry("High error rate", anchor="high-error-rate"),
    ),
    products=(),
    anchors={"": frozenset({"diskfull", "high-error-rate", "mitigation", "mitigation-1"})},
    repo="acme/ops",
    root="docs/oncall.md",
)


def test_repo_targets_in_every_github_url_form() -> None:
    cases = {
        "https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md#mitigation": (
            "alerts/db/DiskFull.md",
            "mitigation",
        ),
        "https://github.com/Acme/Runbooks/blob/main/alerts/db/DiskFull.md": ("alerts/db/DiskFull.md", ""),
        "https://github.com/acme/runbooks/tree/main/alerts/db": ("alerts/db", ""),
        "https://raw.githubusercontent.com/acme/runbooks/main/alerts/db/DiskFull.md": (
            "alerts/db/DiskFull.md",
            "",
        ),
        "https://raw.githubusercontent.com/acme/runbooks/refs/heads/main/alerts/x.md": ("alerts/x.md", ""),
        "https://github.com/acme/runbooks/blob/main/alerts/db/Disk%20Full.md#Mitig%61tion": (
            "alerts/db/Disk Full.md",
            "Mitigation",
        ),
        "https://github.com/acme/runbooks/blob/main/alerts/./db/../db/DiskFull.md": (
            "alerts/db/DiskFull.md",
            "",
        ),
    }
    for url, want in cases.items():
        assert repo_target(url, FOLDER) == want, url
    for other in (
        "https://github.com/acme/other/blob/main/alerts/db/DiskFull.md",
        "https://github.com@evil.example/acme/runbooks/blob/main/x.md",
        "https://gïthub.com/acme/runbooks/blob/main/x.md",
        "https://github.com/acme/runbooks/wiki/DiskFull",
        "https://github.com/acme/runbooks/blob/main/../../etc/passwd",
        "javascript:alert(1)",
        "https://runbooks.example.org/db/DiskFull.md",
    ):
        assert repo_target(other, FOLDER) is None, other


def test_a_branch_with_a_slash_is_read_as_the_runbooks_ref() -> None:
    book = FOLDER.model_copy(update={"ref": "release/2026"})
    url = "https://github.com/acme/runbooks/blob/release/2026/alerts/db/DiskFull.md"
    assert repo_target(url, book) == ("alerts/db/DiskFull.md", "")


def test_github_enterprise_hosts_from_the_runbooks_url() -> None:
    ghe = FOLDER.model_copy(update={"url": "https://git.acme.internal/acme/runbooks/tree/main/alerts"})
    assert repo_target("https://git.acme.internal/acme/runbooks/blob/main/alerts/db/DiskFull.md", ghe) == (
        "alerts/db/DiskFull.md",
        "",
    )
    assert repo_target("https://git.acme.internal/raw/acme/runbooks/main/alerts/a.md", ghe) == (
        "alerts/a.md",
        "",
    )
    assert repo_target("https://raw.git.acme.internal/acme/runbooks/main/alerts/a.md", ghe) == (
        "alerts/a.md",
        "",
    )
    assert repo_target("https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md", ghe) is None


def test_relative_links_resolve_against_the_runbook() -> None:
    assert repo_target("db/DiskFull.md#mitigation", FOLDER) == ("alerts/db/DiskFull.md", "mitigation")
    assert repo_target("#diskfull", ONE_FILE) == ("docs/oncall.md", "diskfull")
    assert repo_target("./other.md", ONE_FILE) == ("docs/other.md", "")
    local = ONE_FILE.model_copy(update={"repo": None, "url": None, "root": ""})
    assert repo_target("#diskfull", local) == ("", "diskfull")


def test_a_link_to_an_entry_file_covers_and_names_the_entry() -> None:
    url = "https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md#Mitigation"
    check = check_in_repo(url, FOLDER, dict(FOLDER.anchors))
    assert check.status is LinkStatus.OK
    assert check.entry is not None and check.entry.path == "db/DiskFull.md"


def test_a_missing_file_or_anchor_is_broken_and_says_which() -> None:
    gone = "https://github.com/acme/runbooks/blob/main/alerts/db/DiskGone.md"
    check = check_in_repo(gone, FOLDER, dict(FOLDER.anchors))
    assert check.status is LinkStatus.BROKEN and check.entry is None
    assert check.reason.startswith(f"the alert links to {gone}, which does not exist")
    assert "file alerts/db/DiskGone.md" in check.reason and "heading" not in check.reason
    bad_anchor = "https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md#recovery"
    check = check_in_repo(bad_anchor, FOLDER, dict(FOLDER.anchors))
    assert check.status is LinkStatus.BROKEN
    assert "no heading #recovery" in check.reason and "alerts/db/DiskFull.md" in check.reason


def test_heading_anchors_in_a_one_file_runbook() -> None:
    base = "https://github.com/acme/ops/blob/main/docs/oncall.md"
    ok = check_in_repo(f"{base}#High-Error-Rate", ONE_FILE, dict(ONE_FILE.anchors))
    assert ok.status is LinkStatus.OK and ok.entry is not None and ok.entry.title == "High error rate"
    prefixed = check_in_repo(f"{base}#user-content-diskfull", ONE_FILE, dict(ONE_FILE.anchors))
    assert prefixed.status is LinkStatus.OK and prefixed.entry is not None
    section = check_in_repo(f"{base}#mitigation-1", ONE_FILE, dict(ONE_FILE.anchors))
    assert section.status is LinkStatus.OK and section.entry is None  # a heading, but not an entry
    assert check_in_repo(f"{base}#nope", ONE_FILE, dict(ONE_FILE.anchors)).status is LinkStatus.BROKEN


def test_table_rows_share_an_anchor_so_no_one_row_is_named() -> None:
    table = ONE_FILE.model_copy(
        update={
            "layout": Layout.TABLE,
            "entries": (
                _entry("DiskFull", anchor="alerts", form=EntryForm.ROW),
                _entry("QueueDepthHigh", anchor="alerts", form=EntryForm.ROW),
            ),
            "anchors": {"": frozenset({"alerts"})},
        }
    )
    check = check_in_repo("https://github.com/acme/ops/blob/main/docs/oncall.md#alerts", table, table.anchors)
    assert check.status is LinkStatus.OK and check.entry is None


def test_other_repository_files_come_from_the_anchors_given() -> None:
    url = "https://github.com/acme/runbooks/blob/main/docs/shared.md#restart"
    assert check_in_repo(url, FOLDER, dict(FOLDER.anchors)).status is LinkStatus.BROKEN
    read = {**FOLDER.anchors, "docs/shared.md": frozenset({"restart"})}
    assert check_in_repo(url, FOLDER, read).status is LinkStatus.OK
    script = {"scripts/fix.sh": frozenset[str]()}
    line = "https://github.com/acme/runbooks/blob/main/scripts/fix.sh#L10-L20"
    assert check_in_repo(line, FOLDER, script).status is LinkStatus.OK


def test_folders_exist_when_a_file_is_under_them() -> None:
    ok = check_in_repo("https://github.com/acme/runbooks/tree/main/alerts/db", FOLDER, dict(FOLDER.anchors))
    assert ok.status is LinkStatus.OK
    gone = check_in_repo("https://github.com/acme/runbooks/tree/main/alerts/cache", FOLDER, {})
    assert gone.status is LinkStatus.BROKEN


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("https://ops:hunter2secret@wiki.example.org/rb", "hunter2secret"),
        ("https://wiki.example.org/rb?token=abcdef123456&page=2", "abcdef123456"),
        ("https://wiki.example.org/rb?X-Amz-Signature=deadbeef99&a=1", "deadbeef99"),
        ("https://wiki.example.org/rb?api_key=k3y-v4lue", "k3y-v4lue"),
    ],
)
def test_secrets_in_links_are_redacted_wherever_shown(url: str, hidden: str) -> None:
    shown = redact(url)
    assert hidden not in shown and "wiki.example.org/rb" in shown
    book = FOLDER.model_copy(update={"url": None, "repo": None})
    assert hidden not in check_in_repo(url, book, {}).reason


def test_a_very_long_link_is_cut_where_shown() -> None:
    url = "https://wiki.example.org/" + "x" * 5000
    assert len(redact(url)) <= 210


def test_a_shown_link_cannot_reverse_or_hide_its_text() -> None:
    assert redact("https://wiki.example.org/\u202egpj.exe\u200b") == "https://wiki.example.org/?gpj.exe?"


def test_a_link_without_secrets_is_shown_as_written() -> None:
    url = "https://wiki.example.org/rb?page=Disk%20Full&view=1#fix"
    assert redact(url) == url


def test_rootly_data_is_flattened_within_bounds() -> None:
    from oncall.sources.rootly.records import flat_data

    huge = {
        "alerts": [{"annotations": {f"k{n}": "v" for n in range(50)}} for _ in range(30)],
        "blob": "x" * 10_000,
    }
    flat = flat_data(huge)
    assert len(flat) == 200
    assert flat_data({"blob": "x" * 10_000, "a": "b"}) == {"a": "b"}  # a huge value is dropped, never cut
    assert flat_data({"a": {"b": [1, True, None, {"c": "d"}]}}) == {
        "a.b.0": "1",
        "a.b.1": "True",
        "a.b.3.c": "d",
    }


def _big_folder(n: int) -> Runbook:
    entries = tuple(
        _entry(f"Alert{i}Down", path=f"team{i % 40}/Alert{i}Down.md", form=EntryForm.FILE) for i in range(n)
    )
    return FOLDER.model_copy(
        update={
            "entries": entries,
            "anchors": {e.path: frozenset({e.title.lower(), "diagnosis", "mitigation"}) for e in entries},
        }
    )


def _big_one_file(n: int) -> Runbook:
    entries = tuple(_entry(f"Alert{i}Down", anchor=f"alert{i}down") for i in range(n))
    anchors = frozenset({e.anchor for e in entries} | {f"mitigation-{i}" for i in range(n)})
    return ONE_FILE.model_copy(update={"entries": entries, "anchors": {"": anchors}})


def test_a_thousand_in_repo_links_each_find_their_entry_or_what_is_missing() -> None:
    folder, one_file = _big_folder(1_000), _big_one_file(1_000)
    base = "https://github.com/acme/runbooks/blob/main/alerts"
    folder_urls = [f"{base}/team{i % 40}/Alert{i}Down.md#Mitigation" for i in range(1_000)]
    missing = [f"{base}/team{i % 40}/Gone{i}.md" for i in range(1_000)]
    page = "https://github.com/acme/ops/blob/main/docs/oncall.md"
    one_file_urls = [f"{page}#alert{i}down" for i in range(1_000)] + [f"{page}#gone{i}" for i in range(1_000)]
    checks = [check_in_repo(u, folder, {}) for u in folder_urls + missing]
    checks += [check_in_repo(u, one_file, {}) for u in one_file_urls]
    assert [c.status for c in checks] == [LinkStatus.OK] * 1_000 + [LinkStatus.BROKEN] * 1_000 + [
        LinkStatus.OK
    ] * 1_000 + [LinkStatus.BROKEN] * 1_000
    assert all(
        c.entry is not None and c.entry.path == f"team{i % 40}/Alert{i}Down.md"
        for i, c in enumerate(checks[:1_000])
    )
    assert all(
        c.entry is not None and c.entry.anchor == f"alert{i}down" for i, c in enumerate(checks[2_000:3_000])
    )


def test_the_index_follows_each_runbook_not_a_stale_one() -> None:
    url = "https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md"
    assert check_in_repo(url, FOLDER, {}).status is LinkStatus.OK
    moved = FOLDER.model_copy(update={"anchors": {"db/DiskFull2.md": frozenset()}, "entries": ()})
    assert check_in_repo(url, moved, {}).status is LinkStatus.BROKEN
    assert check_in_repo(url, FOLDER, {}).status is LinkStatus.OK


def test_a_web_base_with_a_path_prefix_is_the_repositorys_host() -> None:
    # The sandbox serves GitHub under /github/ (and GHE can sit behind a path): everything in
    # the runbook's URL before /<owner>/<repo>/ is the prefix its links carry.
    base = "http://127.0.0.1:8123/github"
    sandbox = FOLDER.model_copy(update={"url": f"{base}/acme/runbooks/tree/main/alerts"})
    assert repo_target(f"{base}/acme/runbooks/blob/main/alerts/db/DiskFull.md#mitigation", sandbox) == (
        "alerts/db/DiskFull.md",
        "mitigation",
    )
    assert repo_target(f"{base}/acme/runbooks/tree/main/alerts/db", sandbox) == ("alerts/db", "")
    assert repo_target(f"{base}/raw/acme/runbooks/main/alerts/a.md", sandbox) == ("alerts/a.md", "")
    check = check_in_repo(f"{base}/acme/runbooks/blob/main/alerts/db/DiskFull.md", sandbox, {})
    assert check.status is LinkStatus.OK and check.entry is not None
    for other in (
        "http://127.0.0.1:8123/acme/runbooks/blob/main/alerts/db/DiskFull.md",  # no prefix
        "http://127.0.0.1:8123/gitlab/acme/runbooks/blob/main/alerts/db/DiskFull.md",
        "http://127.0.0.1:9999/github/acme/runbooks/blob/main/alerts/db/DiskFull.md",  # another port
        f"{base}/acme/other/blob/main/alerts/db/DiskFull.md",
        "https://github.com/acme/runbooks/blob/main/alerts/db/DiskFull.md",
    ):
        assert repo_target(other, sandbox) is None, other
    # With no repo recorded, the repository is the two segments before /blob/ or /tree/.
    unnamed = sandbox.model_copy(update={"repo": None})
    assert repo_target(f"{base}/acme/runbooks/blob/main/alerts/x.md", unnamed) == ("alerts/x.md", "")
    ghe = FOLDER.model_copy(update={"url": "https://git.acme.internal/ghe/acme/runbooks/blob/main/alerts"})
    assert repo_target("https://git.acme.internal/ghe/acme/runbooks/blob/main/alerts/b.md", ghe) == (
        "alerts/b.md",
        "",
    )


def test_known_in_runbook_answers_for_its_files_and_folders() -> None:
    for path, want in {
        "alerts/db/DiskFull.md": True,
        "alerts/db": True,
        "alerts": True,
        "alerts/README.md": True,
        "alerts/db/Gone.md": False,
        "alerts/cache": False,
        "docs/shared.md": False,
        "alertsx/db/DiskFull.md": False,
    }.items():
        assert known_in_runbook(path, FOLDER) is want, path
    assert known_in_runbook("docs/oncall.md", ONE_FILE) and not known_in_runbook("docs/other.md", ONE_FILE)
    big = _big_folder(1_000)
    assert all(known_in_runbook(f"alerts/team{i % 40}", big) for i in range(10_000))


@pytest.mark.parametrize(
    "hostile",
    [
        "[" * 15_000,
        "[runbook " * 1_700,
        "[runbook](" * 1_500,
        " - runbook_url = " * 900,
        "(" * 15_000,
        " - runbook_url = https://x.org/" + ")" * 15_000,
    ],
    ids=["brackets", "runbook-brackets", "open-links", "lines", "parens", "closing-parens"],
)
def test_a_hostile_description_is_read_in_linear_time(hostile: str) -> None:
    # OpsGenie keeps 15,000 characters of description; anything that can fire an alert writes it.
    start = time.process_time()
    found = runbook_url(alert(description=hostile))
    took = time.process_time() - start
    assert found == ("https://x.org/" if "x.org" in hostile else None)  # prose's closing `)` dropped
    assert took < 5.0, f"{took:.2f} s"  # a hang guard: 15 s before its fix, milliseconds now


def test_a_markdown_runbook_link_in_a_description_is_still_read() -> None:
    text = (
        "Disk full. See [the runbook](https://runbooks.example.org/db/DiskFull.md) or [docs](https://x.org)."
    )
    assert runbook_url(alert(description=text)) == DOCS
    assert (
        runbook_url(alert(description="[Runbook: disk](https://runbooks.example.org/db/DiskFull.md)")) == DOCS
    )
    assert runbook_url(alert(description="[docs](https://runbooks.example.org/db/DiskFull.md)")) is None
