"""The Docs fake's structural documents, against the official client and the Google client.

Expected indexes are worked out here from Docs' rules ("Work with tables" and "Document
structure" guides), never read from the fake: the section break takes 0-1; a paragraph its text
in UTF-16 code units plus its "\\n"; a table 1 where it starts, each row 1, each cell 1 plus its
content, and 1 where it ends; `insertTable` at `i` puts a newline at `i` and the table at `i + 1`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest
from googleapiclient.discovery import build  # type: ignore[import-untyped]
from googleapiclient.errors import HttpError  # type: ignore[import-untyped]

from oncall.clients.google import GoogleWorkspace
from oncall.coe import TEMPLATE
from oncall.coe_doc import Block, BlockKind, CellLink
from oncall.errors import ConflictError
from oncall.retry import RetryPolicy
from oncall.sandbox.server import Sandbox
from tests.clients.test_google import _official_credentials
from tests.conftest import FakeSleep

_ids = count(1)


def u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.fixture
def gw(sandbox: Sandbox) -> Iterator[GoogleWorkspace]:
    with GoogleWorkspace(sandbox.state.service_account, base_url=sandbox.google_url) as client:
        yield client


@pytest.fixture
def docs(sandbox: Sandbox) -> Iterator[Any]:
    service = build(
        "docs",
        "v1",
        credentials=_official_credentials(sandbox),
        client_options={"api_endpoint": f"{sandbox.google_url}/docs/"},
        static_discovery=True,
    )
    yield service.documents()
    service.close()


@pytest.fixture
def new_doc(sandbox: Sandbox) -> Iterator[Any]:
    """Adds documents from markdown under fresh ids; removes them after the test."""
    google = sandbox.state.google
    made: list[str] = []

    def add(markdown: str) -> str:
        doc_id = f"doc-fake-{next(_ids)}-xxxxxxxxxxxx"
        google.add_doc(doc_id, "Fake test", markdown, parent=sandbox.state.coe_folder)
        made.append(doc_id)
        return doc_id

    yield add
    for doc_id in made:
        google.docs.pop(doc_id, None)
        google.files.pop(doc_id, None)
        google.revisions.pop(doc_id, None)


def _refusal(call: Any) -> tuple[int, str, str]:
    with pytest.raises(HttpError) as refused:
        call.execute()
    error = json.loads(refused.value.content)["error"]
    return refused.value.resp.status, error["status"], error["message"]


def _table(document: dict[str, Any]) -> dict[str, Any]:
    (table,) = [e for e in document["body"]["content"] if "table" in e]
    return dict(table)


def test_the_official_client_builds_a_table_and_reads_back_docs_indexes(docs: Any, new_doc: Any) -> None:
    doc_id = new_doc("Hello")  # "Hello\n" at [1, 7)
    end = 1 + u16("Hello") + 1
    docs.batchUpdate(
        documentId=doc_id,
        body={"requests": [{"insertTable": {"rows": 2, "columns": 2, "endOfSegmentLocation": {}}}]},
    ).execute()
    # At the end of the body is before its final newline: a newline there, the table after it.
    t = end  # "Hello\n" keeps [1, 7); the inserted newline ends it, the table starts at 7
    cell = [[t + 3, t + 5], [t + 8, t + 10]]  # an empty 2x2 table's cells' paragraphs
    empty = docs.get(documentId=doc_id).execute()
    table = _table(empty)
    assert (table["startIndex"], table["endIndex"]) == (t, t + 12)
    assert table["table"]["rows"] == 2 and table["table"]["columns"] == 2
    assert [
        [c["content"][0]["startIndex"] for c in r["tableCells"]] for r in table["table"]["tableRows"]
    ] == cell
    assert empty["body"]["content"][-1]["startIndex"] == t + 12  # the paragraph Docs keeps after a table

    texts = [["A1", "😀|x"], ["A2\nmore", "B2"]]
    writes = [
        {"insertText": {"location": {"index": cell[r][c]}, "text": texts[r][c]}}
        for r, c in ((1, 1), (1, 0), (0, 1), (0, 0))  # the last cell first: earlier indexes hold
    ]
    docs.batchUpdate(documentId=doc_id, body={"requests": writes}).execute()
    got = docs.get(documentId=doc_id).execute()
    rows = _table(got)["table"]["tableRows"]
    # Each cell grows by its text in UTF-16 units (the emoji is 2); "\n" makes a second paragraph.
    a1, b1 = t + 3, t + 3 + u16("A1") + 2
    a2 = b1 + u16("😀|x") + 1 + 2
    b2 = a2 + u16("A2\nmore") + 2
    assert [[c["content"][0]["startIndex"] for c in r["tableCells"]] for r in rows] == [[a1, b1], [a2, b2]]
    assert _table(got)["endIndex"] == b2 + u16("B2") + 1 + 1  # its "\n", then the table's end
    a2_cell = rows[1]["tableCells"][0]["content"]
    assert [p["paragraph"]["elements"][0]["textRun"]["content"] for p in a2_cell] == ["A2\n", "more\n"]
    assert a2_cell[1]["startIndex"] == a2 + u16("A2\n")

    url = "https://github.com/acme/runbooks/issues/12"
    docs.batchUpdate(
        documentId=doc_id,
        body={
            "requests": [
                {
                    "updateTextStyle": {
                        "range": {"startIndex": b1, "endIndex": b1 + u16("😀")},
                        "textStyle": {"link": {"url": url}},
                        "fields": "link",
                    }
                },
                {"deleteContentRange": {"range": {"startIndex": 2, "endIndex": 4}}},  # "el" of Hello
            ]
        },
    ).execute()
    got = docs.get(documentId=doc_id).execute()
    assert got["body"]["content"][1]["paragraph"]["elements"][0]["textRun"]["content"] == "Hlo\n"
    table = _table(got)
    assert table["startIndex"] == t - 2
    runs = table["table"]["tableRows"][0]["tableCells"][1]["content"][0]["paragraph"]["elements"]
    assert [(r["textRun"]["content"], r["textRun"]["textStyle"].get("link")) for r in runs] == [
        ("😀", {"url": url}),
        ("|x\n", None),
    ]
    assert runs[0]["startIndex"] == b1 - 2 and runs[1]["startIndex"] == b1 - 2 + 2


def test_a_batch_with_one_bad_request_applies_nothing(docs: Any, new_doc: Any, sandbox: Sandbox) -> None:
    doc_id = new_doc("# Title\n\n| a | b |\n|---|---|\n| c | d |\nlast")
    google = sandbox.state.google
    before, revision = google.text(doc_id), google.revisions[doc_id]
    # "Title\n" [1, 7), "\n" [7, 8), the table at 8: cells a, b, c, d of 1 + "x\n" each.
    t = 1 + u16("Title\n") + 1
    table_end = t + 1 + 2 * (1 + 2 * 3) + 1
    end = table_end + u16("last\n")
    doc = docs.get(documentId=doc_id).execute()
    assert (_table(doc)["startIndex"], _table(doc)["endIndex"], doc["body"]["content"][-1]["endIndex"]) == (
        t,
        table_end,
        end,
    )
    first = {"insertText": {"location": {"index": 1}, "text": "New "}}

    def batch(*requests: dict[str, Any]) -> Any:
        return docs.batchUpdate(documentId=doc_id, body={"requests": [first, *requests]})

    past_end = {"insertText": {"location": {"index": 99}, "text": "x"}}
    assert _refusal(batch(past_end)) == (
        400,
        "INVALID_ARGUMENT",
        # Docs checks each request against the document as the earlier ones left it.
        f"Invalid requests[1].insertText: Index 99 must be less than the end index of the "
        f"referenced segment, {end + u16('New ')}.",
    )
    at_table = {"insertText": {"location": {"index": t + 4}, "text": "x"}}  # 't' moved by "New "
    assert _refusal(batch(at_table))[2] == (
        "Invalid requests[1].insertText: The insertion index must be inside the bounds of an existing paragraph."
    )
    across = {"deleteContentRange": {"range": {"startIndex": t + 4 + 3, "endIndex": table_end + 4 + 2}}}
    assert _refusal(batch(across))[2] == (
        "Invalid requests[1].deleteContentRange: Invalid deletion range. Cannot delete the requested range."
    )
    final_newline = {"deleteContentRange": {"range": {"startIndex": end + 4 - 2, "endIndex": end + 4}}}
    assert "must be less than the end index" in _refusal(batch(final_newline))[2]
    no_fields = {"updateTextStyle": {"range": {"startIndex": 1, "endIndex": 3}, "textStyle": {"bold": True}}}
    assert "At least one field must be listed in 'fields'" in _refusal(batch(no_fields))[2]
    unknown = {"createNamedRange": {"name": "x", "range": {"startIndex": 1, "endIndex": 2}}}
    assert "createNamedRange" in _refusal(batch(unknown))[2]
    assert google.text(doc_id) == before and google.revisions[doc_id] == revision
    # The same first request alone is applied, and moves the revision.
    reply = docs.batchUpdate(documentId=doc_id, body={"requests": [first]}).execute()
    assert reply["replies"] == [{}] and google.text(doc_id) == "New " + before
    assert reply["writeControl"]["requiredRevisionId"] == docs.get(documentId=doc_id).execute()["revisionId"]


def test_a_stale_revision_is_refused_whole(docs: Any, new_doc: Any, sandbox: Sandbox) -> None:
    doc_id = new_doc("Root cause: TBD")
    read = docs.get(documentId=doc_id).execute()["revisionId"]
    sandbox.state.google.edit(doc_id, "TBD", "the disk filled up")  # a person, after our read
    body = {
        "requests": [{"insertText": {"location": {"index": 1}, "text": "Draft. "}}],
        "writeControl": {"requiredRevisionId": read},
    }
    status, code, _ = _refusal(docs.batchUpdate(documentId=doc_id, body=body))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert sandbox.state.google.text(doc_id) == "Root cause: the disk filled up\n"
    target = {**body, "writeControl": {"targetRevisionId": read}}
    assert "unsupported by the sandbox" in _refusal(docs.batchUpdate(documentId=doc_id, body=target))[2]
    current = docs.get(documentId=doc_id).execute()["revisionId"]
    body["writeControl"] = {"requiredRevisionId": current}
    reply = docs.batchUpdate(documentId=doc_id, body=body).execute()
    assert reply["writeControl"]["requiredRevisionId"] not in (read, current)
    assert sandbox.state.google.text(doc_id) == "Draft. Root cause: the disk filled up\n"


def _actions(blocks: tuple[Block, ...]) -> Block:
    (table,) = [b for b in blocks if b.kind is BlockKind.TABLE]
    assert [c.text for c in table.rows[0]] == ["action", "owner", "issue", "due"]
    return table


def test_link_cells_writes_linked_text_into_the_actions_table(
    gw: GoogleWorkspace, new_doc: Any, sandbox: Sandbox
) -> None:
    template = new_doc(TEMPLATE.read_text(encoding="utf-8"))
    doc = gw.copy_template(template, sandbox.state.coe_folder, "COE links", "inc-docs-fake-1")
    try:
        read = gw.read_document(doc.id)
        table = _actions(read.blocks)
        issue = table.rows[0].index(next(c for c in table.rows[0] if c.text == "issue"))
        first, third = table.rows[1][issue], table.rows[3][issue]
        assert first.start_index is not None and third.start_index is not None
        url1, url3 = (
            "https://github.com/acme/runbooks/issues/41",
            "https://github.com/acme/runbooks/issues/43",
        )
        revision = gw.link_cells(
            doc.id,
            read.revision_id,
            [
                CellLink(index=first.start_index, text="#41", url=url1),
                CellLink(index=third.start_index, text="#43 🚨", url=url3),
            ],
        )
        after = gw.read_document(doc.id)
        assert revision == after.revision_id != read.revision_id
        rows = _actions(after.blocks).rows
        assert (rows[1][issue].text, rows[1][issue].links) == ("#41", (url1,))
        assert (rows[3][issue].text, rows[3][issue].links) == ("#43 🚨", (url3,))
        assert rows[2][issue].text == "" and rows[2][issue].links == ()
        assert [c.text for c in rows[1]] == [c.text for c in table.rows[1][:issue]] + ["#41", ""]
        assert "| #41 |" in sandbox.state.google.text(doc.id)  # the test helper sees cells too
        # The template was copied, not shared: it has no link.
        assert all(not c.links for r in _actions(gw.read_document(template).blocks).rows for c in r)
    finally:
        sandbox.state.google.files.pop(doc.id)
        sandbox.state.google.docs.pop(doc.id)


def test_link_cells_on_a_document_edited_since_the_read_raises_conflict_and_changes_nothing(
    gw: GoogleWorkspace, new_doc: Any, sandbox: Sandbox
) -> None:
    doc_id = new_doc(TEMPLATE.read_text(encoding="utf-8"))
    read = gw.read_document(doc_id)
    cell = _actions(read.blocks).rows[1][2]
    assert cell.start_index is not None
    sandbox.state.google.edit(doc_id, "_(prevent it)_", "Alarm at 80% disk")  # a person types
    edited = sandbox.state.google.text(doc_id)
    with pytest.raises(ConflictError) as conflict:
        gw.link_cells(
            doc_id, read.revision_id, [CellLink(index=cell.start_index, text="#7", url="https://x.example/7")]
        )
    assert conflict.value.status == 400 and doc_id in str(conflict.value)
    assert sandbox.state.google.text(doc_id) == edited
    assert not any(c.links for r in _actions(gw.read_document(doc_id).blocks).rows for c in r)


def test_a_resent_link_write_after_a_lost_answer_is_refused_and_the_reread_finds_the_link(
    new_doc: Any, sandbox: Sandbox, fake_sleep: FakeSleep
) -> None:
    doc_id = new_doc(TEMPLATE.read_text(encoding="utf-8"))
    with GoogleWorkspace(
        sandbox.state.service_account,
        base_url=sandbox.google_url,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
        sleep=fake_sleep,
    ) as gw:
        read = gw.read_document(doc_id)
        cell = _actions(read.blocks).rows[1][2]
        assert cell.start_index is not None
        sandbox.script(f"/google/docs/v1/documents/{doc_id}:batchUpdate", 502, method="POST", after=True)
        with pytest.raises(ConflictError):
            gw.link_cells(
                doc_id,
                read.revision_id,
                [CellLink(index=cell.start_index, text="#9", url="https://x.example/9")],
            )
        again = _actions(gw.read_document(doc_id).blocks).rows[1][2]
    assert (again.text, again.links) == ("#9", ("https://x.example/9",))  # written once, not twice


def _docs_requests(sandbox: Sandbox, since: int) -> list[Any]:
    return [s for s in sandbox.app.served[since:] if s.system == "google" and "/docs/v1/" in s.path]


TIMELINE = [
    ["time", "who", "what"],
    ["14:05", "Ada|Grace", "paged: disk 95%\nsecond line"],
    ["14:07", "😀 bot", "{{not.a.placeholder}} | restarted 🚀"],
]


def test_fill_places_a_native_table_and_fills_the_rest_in_two_requests(
    gw: GoogleWorkspace, new_doc: Any, sandbox: Sandbox
) -> None:
    doc_id = new_doc(
        "# COE: {{incident.title}}\n\n## Timeline\n\n{{timeline.table}}\n\nAlso: {{timeline.table}}\n"
    )
    mark = len(sandbox.app.served)
    counts = gw.fill(
        doc_id,
        {"incident.title": "Disk full 😀", "timeline.table": "(see above)"},
        {"timeline.table": TIMELINE},
    )
    assert len(_docs_requests(sandbox, mark)) == 2  # one documents.get, one batchUpdate
    # The standalone placeholder became a table; the one sharing a paragraph got the text fallback.
    assert counts == {"incident.title": 1, "timeline.table": 2}
    blocks = gw.read_document(doc_id).blocks
    (table,) = [b for b in blocks if b.kind is BlockKind.TABLE]
    assert [[c.text for c in row] for row in table.rows] == TIMELINE
    texts = [b.text for b in blocks if b.kind is not BlockKind.TABLE]
    assert texts == ["COE: Disk full 😀", "Timeline", "Also: (see above)"]
    assert "{{timeline.table}}" not in sandbox.state.google.text(doc_id)
    # The cells' indexes are Docs' own: a link written at one lands in that cell, after the emoji.
    read = gw.read_document(doc_id)
    (table,) = [b for b in read.blocks if b.kind is BlockKind.TABLE]
    target = table.rows[2][2]
    assert target.start_index is not None
    gw.link_cells(
        doc_id, read.revision_id, [CellLink(index=target.start_index, text="PR ", url="https://x.example/pr")]
    )
    (table,) = [b for b in gw.read_document(doc_id).blocks if b.kind is BlockKind.TABLE]
    assert table.rows[2][2].text == "PR " + TIMELINE[2][2] and table.rows[2][2].links == (
        "https://x.example/pr",
    )
    assert [c.text for c in table.rows[2][:2]] == TIMELINE[2][:2]


def test_fill_without_tables_sends_what_replace_all_sends(
    gw: GoogleWorkspace, new_doc: Any, sandbox: Sandbox
) -> None:
    values = {"incident.title": "T", "nope": "x"}
    sent = []
    for call in (gw.replace_all, lambda d, v: gw.fill(d, v, {})):
        doc_id = new_doc("# {{incident.title}}\n{{timeline.table}}")
        mark = len(sandbox.app.served)
        assert call(doc_id, values) == {"incident.title": 1, "nope": 0}
        [request] = _docs_requests(sandbox, mark)
        sent.append((request.method, request.path.replace(doc_id, "ID"), json.loads(request.body)))
    assert sent[0] == sent[1]


def test_fill_of_a_document_edited_between_its_read_and_write_is_a_conflict(
    gw: GoogleWorkspace, new_doc: Any, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc_id = new_doc("{{timeline.table}}\nend")
    google = sandbox.state.google
    real_get = gw.api.get_json

    def get_then_edit(*args: Any, **kwargs: Any) -> Any:
        answer = real_get(*args, **kwargs)
        google.edit(doc_id, "end", "the end, as a person wrote it")
        return answer

    monkeypatch.setattr(gw.api, "get_json", get_then_edit)
    with pytest.raises(ConflictError):
        gw.fill(doc_id, {}, {"timeline.table": TIMELINE})
    assert google.text(doc_id) == "{{timeline.table}}\nthe end, as a person wrote it\n"


def test_a_markdown_import_makes_pipe_lines_a_table_but_not_inside_a_fence(docs: Any, new_doc: Any) -> None:
    doc_id = new_doc("Intro\n```\n| kept | as text |\n```\n| h1 | h2 |\n|:---|---:|\n| a | b \\| c |")
    content = docs.get(documentId=doc_id).execute()["body"]["content"]
    texts = [
        "".join(r["textRun"]["content"] for r in e["paragraph"]["elements"])
        for e in content
        if "paragraph" in e
    ]
    assert texts == ["Intro\n", "```\n", "| kept | as text |\n", "```\n", "\n"]  # and the one after the table
    rows = _table({"body": {"content": content}})["table"]["tableRows"]
    assert len(rows) == 2 and len(rows[0]["tableCells"]) == 2  # the rule is not a row
    cell = rows[1]["tableCells"][1]["content"][0]["paragraph"]["elements"][0]["textRun"]["content"]
    assert cell == "b | c\n"  # an escaped pipe is text in its cell
