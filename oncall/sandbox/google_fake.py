"""Fake Google APIs: OAuth token exchange, Drive v3 (generateIds, copy, list, get, delete), Docs v1
(get; batchUpdate with replaceAllText, insertText, deleteContentRange, insertTable and
updateTextStyle, applied whole or not at all, under `writeControl.requiredRevisionId`).

A document is structural, as Docs keeps it: paragraphs and tables (rows, cells, a cell's
paragraphs) with Docs' UTF-16 index arithmetic, and links on text; a markdown template's pipe
tables are imported as real tables.

`files.get` honours `fields` (Drive's partial response, e.g. `driveId,capabilities(canAddChildren)`)
and carries the caller's `capabilities`; `driveId` is there only for an item on a Shared Drive.

Errors have Google's shape, `{"error": {"code", "message", "errors": [{domain, reason}], "status"}}`,
including the 403 a service account gets when it copies into a My Drive folder (no storage
quota of its own) and the 403 for a folder it cannot write. Tests run google-api-python-client
against these routes, so the shapes follow the published discovery documents.

Drive as it behaves, not as one would like it to:
- Search (`files.list` with `q`) may not see a file made moments ago; `search_lag_seconds` keeps a
  new file out of search results for that long (`files.get` by id sees it at once).
- A copy may carry an id from `files.generateIds` in its body. A second copy with that id gets 409
  `duplicate`; an id Drive did not generate gets 400 `fileIdNotUsable`; and a Google Docs Editors
  file (a Doc, Sheet, Slides deck, Drawing or Form) refuses any generated id with 403
  `generatedIdNotSupported` ("Generated IDs are not supported for Docs Editors formats"), as Drive
  answered a live create, and a files.copy of a Slides deck (googleapis/google-api-go-client#2334).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router

from oncall.sandbox.responses import JSONResponse
from oncall.sandbox.urls import SANDBOX_WEB

DOC_MIME = "application/vnd.google-apps.document"
FOLDER_MIME = "application/vnd.google-apps.folder"
# The Google Docs Editors formats: Drive gives them ids of its own and refuses a generated one.
DOCS_EDITORS = {
    DOC_MIME,
    "application/vnd.google-apps.spreadsheet",
    "application/vnd.google-apps.presentation",
    "application/vnd.google-apps.drawing",
    "application/vnd.google-apps.form",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
}


@dataclass
class GoogleState:
    client_email: str = "oncall-flows@sandbox-project.iam.gserviceaccount.com"
    tokens: set[str] = field(default_factory=set)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    unwritable: set[str] = field(default_factory=set)  # folder ids the service account cannot write
    search_lag_seconds: float = 0.0  # how long a new file stays out of Drive search results
    generated_ids: set[str] = field(default_factory=set)  # from files.generateIds, not used yet
    made_at: dict[str, float] = field(default_factory=dict)  # file id -> time.monotonic() it was made

    def add_folder(self, folder_id: str, name: str, shared_drive: str | None = "drive-ops") -> None:
        self.files[folder_id] = {
            "id": folder_id,
            "name": name,
            "mimeType": FOLDER_MIME,
            "parents": [],
            "appProperties": {},
            "trashed": False,
            "driveId": shared_drive,
        }

    def add_doc(self, doc_id: str, title: str, markdown: str, parent: str = "folder-templates") -> None:
        self.files[doc_id] = {
            "id": doc_id,
            "name": title,
            "mimeType": DOC_MIME,
            "parents": [parent],
            "appProperties": {},
            "trashed": False,
            "driveId": "drive-ops",
        }
        self.docs[doc_id] = doc_from_markdown(markdown)
        self.revisions[doc_id] = 1

    def text(self, doc_id: str) -> str:
        """The document as markdown, as a person would export it: a line per paragraph, and each
        table as pipe-table lines (a rule after the header) holding every cell's text in order."""
        lines: list[str] = []
        for element in self.docs[doc_id].body:
            if isinstance(element, Paragraph):
                lines.append(element.text)
                continue
            for n, row in enumerate(element.rows):
                cells = [c.text.replace("|", "\\|").replace("\n", "<br>") for c in row]
                lines.append("| " + " | ".join(cells) + " |")
                if n == 0:
                    lines.append("|" + "---|" * len(row))
        return "".join(line + "\n" for line in lines)

    def edit(self, doc_id: str, old: str | None = None, new: str = "") -> None:
        """A person's edit in the editor: every `old` (in paragraphs and cells) becomes `new`, and
        the document's revision moves on, as every edit moves it."""
        if old:
            for para in self.docs[doc_id].paragraphs():
                if old in para.text:
                    para.text = para.text.replace(old, new)
        self.revisions[doc_id] += 1


# -- Docs: the document model ------------------------------------------------------------------
#
# A body is a list of structural elements, paragraphs and tables (table -> rows -> cells -> a
# cell's paragraphs), indexed as Docs indexes them, in UTF-16 code units ("Work with tables" and
# "Document structure" in the Docs API guides): the section break takes 0-1; a paragraph spans its
# text and its closing "\n"; a table takes 1 index where it starts, each row 1, each cell 1 plus
# its content, and 1 where it ends. So an empty 2x2 table at S ends at S + 12 and its first cell's
# paragraph starts at S + 3; `insertTable` at 1 in an empty document puts the table at 2 (Docs
# inserts a newline before it) and the first cell's text at 5.


class Paragraph:
    """A paragraph's text (without its closing newline), the link on each of its characters, and
    its named style. Setting `text` drops the links, as a person retyping the paragraph would."""

    __slots__ = ("_text", "links", "style")

    def __init__(self, text: str = "", style: str = "NORMAL_TEXT", links: list[str | None] | None = None):
        self._text = text
        self.links: list[str | None] = list(links) if links is not None else [None] * len(text)
        self.style = style

    @property
    def text(self) -> str:
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        self._text, self.links = value, [None] * len(value)

    def copy(self) -> Paragraph:
        return Paragraph(self._text, self.style, self.links)

    def size(self) -> int:
        return _u16(self._text) + 1

    def runs(self) -> list[tuple[str, str | None]]:
        """The text as runs of one link (or none), as Docs splits a paragraph's elements."""
        out: list[tuple[str, str | None]] = []
        for ch, link in zip(self._text, self.links, strict=True):
            if out and out[-1][1] == link:
                out[-1] = (out[-1][0] + ch, link)
            else:
                out.append((ch, link))
        return out

    def cut(self, offset: int) -> tuple[Paragraph, Paragraph]:
        """The paragraph split at a UTF-16 offset (both halves keep its style)."""
        at = _py_offset(self._text, offset)
        return (
            Paragraph(self._text[:at], self.style, self.links[:at]),
            Paragraph(self._text[at:], self.style, self.links[at:]),
        )

    def __repr__(self) -> str:
        return f"Paragraph({self._text!r}, {self.style!r})"


@dataclass
class Cell:
    content: list[Paragraph] = field(default_factory=lambda: [Paragraph()])

    def size(self) -> int:
        return 1 + sum(p.size() for p in self.content)

    def copy(self) -> Cell:
        return Cell([p.copy() for p in self.content])

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content)


@dataclass
class Table:
    rows: list[list[Cell]]

    def size(self) -> int:
        return 2 + sum(1 + sum(c.size() for c in row) for row in self.rows)

    def copy(self) -> Table:
        return Table([[c.copy() for c in row] for row in self.rows])

    @property
    def columns(self) -> int:
        return max((len(r) for r in self.rows), default=0)


Element = Paragraph | Table


class _RowLine:
    """A table row read and written as the pipe-table line a person would type for it."""

    def __init__(self, row: list[Cell]) -> None:
        self.row = row

    @property
    def text(self) -> str:
        return "| " + " | ".join(c.text.replace("|", "\\|") for c in self.row) + " |"

    @text.setter
    def text(self, value: str) -> None:
        cells = _pipe_cells(value)
        for n, cell in enumerate(self.row):
            cell.content = [Paragraph(cells[n] if n < len(cells) else "")]


class Document:
    """A document's body. Iterating it gives its lines as a person sees them in the editor: each
    body paragraph, and each table row as its pipe-table line (`.text` readable and settable), so
    a test can play a person typing into a paragraph or into a row of a table."""

    def __init__(self, body: list[Element]) -> None:
        self.body = body

    def copy(self) -> Document:
        return Document([e.copy() for e in self.body])

    def __iter__(self) -> Iterator[Paragraph | _RowLine]:
        for element in self.body:
            if isinstance(element, Table):
                yield from (_RowLine(row) for row in element.rows)
            else:
                yield element

    def end(self) -> int:
        return 1 + sum(e.size() for e in self.body)

    def paragraphs(self) -> Iterator[Paragraph]:
        """Every paragraph in document order, those in table cells included."""
        for element in self.body:
            if isinstance(element, Table):
                for row in element.rows:
                    for cell in row:
                        yield from cell.content
            else:
                yield element


@dataclass
class Spot:
    """Where one paragraph or table sits: its indexes, and the list (the body or a cell's
    content) holding it."""

    start: int
    end: int
    element: Element
    container: list[Any]
    at: int
    cell: tuple[int, int] | None  # the content range of the cell holding it; None in the body


def spots(doc: Document) -> list[Spot]:
    """Every paragraph and table with its indexes, in document order (a table before its cells')."""
    out: list[Spot] = []

    def walk(container: list[Any], index: int, cell: tuple[int, int] | None) -> int:
        for at, element in enumerate(container):
            start = index
            if isinstance(element, Table):
                out.append(Spot(start, start + element.size(), element, container, at, cell))
                index += 1
                for row in element.rows:
                    index += 1
                    for c in row:
                        inner = (index + 1, index + c.size())
                        index = walk(c.content, index + 1, inner)
                index += 1
            else:
                index += element.size()
                out.append(Spot(start, index, element, container, at, cell))
        return index

    walk(doc.body, 1, None)
    return out


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _py_offset(text: str, offset: int) -> int:
    """The str index at a UTF-16 offset; one inside a surrogate pair moves past the pair, as Docs
    moves an insertion out of a grapheme cluster."""
    units = 0
    for n, ch in enumerate(text):
        if units >= offset:
            return n
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_RULE_CELL = re.compile(r"\s*:?-+:?\s*")


def _pipe_cells(line: str) -> list[str]:
    """A pipe-table line's cells; `\\|` is a pipe inside a cell (GitHub-flavoured markdown)."""
    inner = line.strip().removeprefix("|")
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def doc_from_markdown(markdown: str) -> Document:
    """How a markdown file looks once imported into Google Docs: a paragraph per line, headings
    styled, and each run of pipe-table lines a real table (its `|---|` rule is not a row)."""
    body: list[Element] = []
    rows: list[list[str]] = []

    def close_table() -> None:
        if rows:
            width = max(len(r) for r in rows)
            body.append(Table([[Cell([Paragraph(t)]) for t in r + [""] * (width - len(r))] for r in rows]))
            rows.clear()

    fenced = False  # a fenced block's pipe lines are text, as `blocks_from_markdown` reads them
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and _PIPE_ROW.match(line) and len(line.strip()) >= 2:
            cells = _pipe_cells(line)
            if not all(_RULE_CELL.fullmatch(c) for c in cells):
                rows.append(cells)
            continue
        close_table()
        m = re.match(r"^(#{1,6})\s+(.*)$", line)
        body.append(Paragraph(m.group(2), f"HEADING_{len(m.group(1))}") if m else Paragraph(line))
    close_table()
    return Document(_well_formed(body))


def _well_formed(body: list[Element]) -> list[Element]:
    """Docs keeps a paragraph before and after every table, and ends a body with a paragraph."""
    out: list[Element] = []
    for element in body:
        if isinstance(element, Table) and (not out or isinstance(out[-1], Table)):
            out.append(Paragraph())
        out.append(element)
    if not out or isinstance(out[-1], Table):
        out.append(Paragraph())
    return out


# -- Docs: batchUpdate requests ----------------------------------------------------------------
#
# Each request is checked as Docs checks it and applied to a working copy, in order; the first
# refusal fails the whole batch and the document is left as it was (Docs applies a batch
# atomically). Messages follow Docs' ("Invalid requests[3].insertText: Index 99 must be less than
# the end index of the referenced segment, 42.").

# Docs strips these from inserted text (Docs API, "Structural edit rules and behavior").
_STRIPPED = re.compile("[\x00-\x08\x0c-\x1f\ue000-\uf8ff]")
_NOT_IN_PARAGRAPH = "The insertion index must be inside the bounds of an existing paragraph."
_BAD_DELETE = "Invalid deletion range. Cannot delete the requested range."
_TEXT_STYLE_FIELDS = {
    "bold", "italic", "underline", "strikethrough", "smallCaps", "backgroundColor",
    "foregroundColor", "fontSize", "weightedFontFamily", "baselineOffset", "link",
}  # fmt: skip


class Refused(Exception):
    """A request Docs would refuse; the message is what Docs says after `Invalid requests[i].kind: `."""


def _int(spec: dict[str, Any], name: str) -> int:
    value = spec.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(f"{name} must be an integer.")
    return value


def _segment_end(doc: Document, index: int) -> None:
    end = doc.end()
    if index >= end:
        raise Refused(f"Index {index} must be less than the end index of the referenced segment, {end}.")


def _location(doc: Document, spec: dict[str, Any]) -> int:
    """`location.index`, or for `endOfSegmentLocation` the body's end, before its final newline."""
    if "endOfSegmentLocation" in spec:
        return doc.end() - 1
    return _int(spec.get("location") or {}, "index")


def _paragraph_at(doc: Document, index: int) -> Spot:
    """The paragraph whose range holds `index`; a table's, a row's or a cell's own index is none."""
    _segment_end(doc, index)
    for spot in spots(doc):
        if isinstance(spot.element, Paragraph) and spot.start <= index < spot.end:
            return spot
    raise Refused(_NOT_IN_PARAGRAPH)


def insert_text(doc: Document, spec: dict[str, Any]) -> None:
    text = spec.get("text")
    if not isinstance(text, str):
        raise Refused("text must be a string.")
    index = _location(doc, spec)
    spot = _paragraph_at(doc, index)
    text = _STRIPPED.sub("", text)
    if not text:
        return
    para = spot.element
    assert isinstance(para, Paragraph)
    head, tail = para.cut(index - spot.start)
    # Inserted text takes the style of the character before it (Docs: "typically").
    link = head.links[-1] if head.links else None
    lines = text.split("\n")
    made: list[Paragraph] = []
    for n, line in enumerate(lines):
        if n == 0:
            made.append(Paragraph(head.text + line, para.style, head.links + [link] * len(line)))
        else:  # a newline makes a new paragraph with the style of the one it splits
            made.append(Paragraph(line, para.style, [link] * len(line)))
    last = made[-1]
    made[-1] = Paragraph(last.text + tail.text, para.style, last.links + tail.links)
    spot.container[spot.at : spot.at + 1] = made


def insert_table(doc: Document, spec: dict[str, Any]) -> None:
    rows, columns = _int(spec, "rows"), _int(spec, "columns")
    if rows < 1 or columns < 1:
        raise Refused("The table must have at least one row and one column.")
    index = _location(doc, spec)
    spot = _paragraph_at(doc, index)
    if spot.cell is not None:
        raise Refused("a table inside a table cell is unsupported by the sandbox.")
    para = spot.element
    assert isinstance(para, Paragraph)
    head, tail = para.cut(index - spot.start)
    table = Table([[Cell() for _ in range(columns)] for _ in range(rows)])
    # The newline Docs inserts before the table ends `head`; the table starts at index + 1.
    spot.container[spot.at : spot.at + 1] = [head, table, tail]


def delete_range(doc: Document, spec: dict[str, Any]) -> None:
    rng = spec.get("range") or {}
    start, end = _int(rng, "startIndex"), _int(rng, "endIndex")
    if start < 1:
        raise Refused(_BAD_DELETE)
    if end <= start:
        raise Refused("The range must have an end index greater than its start index.")
    if end >= doc.end():  # the segment's final newline is never deleted
        raise Refused(f"Index {end} must be less than the end index of the referenced segment, {doc.end()}.")
    found = spots(doc)
    cells = {s.cell for s in found if s.cell is not None and s.cell[0] <= start < s.cell[1]}
    if cells:  # inside one cell: the range stays in it, and keeps the cell's last newline
        (cell,) = cells
        if end >= cell[1]:
            raise Refused(_BAD_DELETE)
        _delete_in([s for s in found if s.cell == cell], start, end)
        return
    for s in found:  # a range that cuts into a table without covering all of it
        if isinstance(s.element, Table) and s.cell is None:
            inside = s.start < start < s.end or s.start < end < s.end
            if inside or (start == s.start and end < s.end):
                raise Refused(_BAD_DELETE)
    _delete_in([s for s in found if s.cell is None], start, end)
    if len(_well_formed(doc.body)) != len(doc.body):  # a table left without a paragraph beside it
        raise Refused(_BAD_DELETE)


def _delete_in(level: list[Spot], start: int, end: int) -> None:
    """Delete [start, end) among the elements of one list (the body or a cell's content)."""
    touched = [s for s in level if s.start < end and start < s.end]
    first, last = touched[0], touched[-1]
    container = first.container
    after = container[last.at + 1] if last.at + 1 < len(container) else None
    keep: list[Element] = []
    head = None
    if isinstance(first.element, Paragraph) and start > first.start:
        head = first.element.cut(start - first.start)[0]
    tail = None
    if isinstance(last.element, Paragraph) and end < last.end:
        tail = last.element.cut(end - last.start)[1]
    stop = last.at + 1
    if head is not None and tail is None:
        # The last paragraph's newline went too: what is left of the first joins the next one.
        if not isinstance(after, Paragraph):
            raise Refused(_BAD_DELETE)
        tail, stop = after, last.at + 2
    if head is not None and tail is not None:
        keep = [Paragraph(head.text + tail.text, tail.style, head.links + tail.links)]
    elif tail is not None:
        keep = [tail]
    container[first.at : stop] = keep
    if not container:
        raise Refused(_BAD_DELETE)


def update_text_style(doc: Document, spec: dict[str, Any]) -> None:
    fields = spec.get("fields")
    names = [f.strip() for f in str(fields or "").split(",") if f.strip()]
    if not names:
        raise Refused("At least one field must be listed in 'fields'. (Use '*' to indicate all fields.)")
    unknown = [n for n in names if n != "*" and n.split(".")[0] not in _TEXT_STYLE_FIELDS]
    if unknown:
        raise Refused(f"Invalid field mask: {unknown[0]} is not a field of textStyle.")
    rng = spec.get("range") or {}
    start, end = _int(rng, "startIndex"), _int(rng, "endIndex")
    if end <= start:
        raise Refused("The range must have an end index greater than its start index.")
    if end > doc.end():
        raise Refused(f"Index {end} must be less than the end index of the referenced segment, {doc.end()}.")
    if "link" not in names and "*" not in names:
        return  # only links are kept by the sandbox; other styles are accepted and not stored
    link = ((spec.get("textStyle") or {}).get("link") or {}).get("url")
    for s in spots(doc):
        if isinstance(s.element, Paragraph) and s.start < end and start < s.end - 1:
            para = s.element
            a = _py_offset(para.text, max(start - s.start, 0))
            b = _py_offset(para.text, min(end, s.end - 1) - s.start)
            para.links[a:b] = [link] * (b - a)


def replace_all_text(doc: Document, spec: dict[str, Any]) -> dict[str, Any]:
    contains = spec.get("containsText") or {}
    needle, repl = contains.get("text", ""), spec.get("replaceText", "")
    if not needle:
        raise Refused("containsText.text must not be empty.")
    flags = 0 if contains.get("matchCase") else re.IGNORECASE
    pattern = re.compile(re.escape(needle), flags)
    changed = 0

    def replace(container: list[Any]) -> None:
        nonlocal changed
        out: list[Any] = []
        for element in container:
            if isinstance(element, Table):
                for row in element.rows:
                    for cell in row:
                        replace(cell.content)
                out.append(element)
                continue
            text, links, pos = "", [], 0
            for m in pattern.finditer(element.text):
                text += element.text[pos : m.start()] + repl
                links += element.links[pos : m.start()] + [element.links[m.start()]] * len(repl)
                pos = m.end()
                changed += 1
            text += element.text[pos:]
            links += element.links[pos:]
            # New lines in replacement text become new paragraphs, as in Docs.
            at = 0
            for n, part in enumerate(text.split("\n")):
                out.append(
                    Paragraph(part, element.style if n == 0 else "NORMAL_TEXT", links[at : at + len(part)])
                )
                at += len(part) + 1
        container[:] = out

    replace(doc.body)
    return {"occurrencesChanged": changed} if changed else {}


EDITS: dict[str, Callable[[Document, dict[str, Any]], dict[str, Any] | None]] = {
    "replaceAllText": replace_all_text,
    "insertText": insert_text,
    "deleteContentRange": delete_range,
    "insertTable": insert_table,
    "updateTextStyle": update_text_style,
}


def apply_requests(doc: Document, requests: list[Any]) -> list[dict[str, Any]]:
    """The replies to `requests`, applied in order to `doc` (a working copy); raises `Refused`
    with Docs' whole message for the first request Docs would refuse."""
    replies: list[dict[str, Any]] = []
    for n, req in enumerate(requests):
        kinds = list(req) if isinstance(req, dict) else []
        if len(kinds) != 1:
            raise Refused(f"Invalid requests[{n}]: exactly one kind of request must be set.")
        (kind,) = kinds
        edit = EDITS.get(kind)
        if edit is None:
            raise Refused(f"Invalid requests[{n}].{kind}: unsupported by the sandbox.")
        spec = req[kind] if isinstance(req[kind], dict) else {}
        try:
            reply = edit(doc, spec)
        except Refused as exc:
            raise Refused(f"Invalid requests[{n}].{kind}: {exc}") from None
        replies.append({kind: reply} if reply is not None else {})
    return replies


def _paragraph_json(para: Paragraph, start: int) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    index = start
    runs = para.runs()
    if not runs or runs[-1][1] is not None:  # the closing newline is never part of a link
        runs.append(("", None))
    for n, (text, link) in enumerate(runs):
        text += "\n" if n == len(runs) - 1 else ""
        end = index + _u16(text)
        style = {"link": {"url": link}} if link else {}
        elements.append(
            {"startIndex": index, "endIndex": end, "textRun": {"content": text, "textStyle": style}}
        )
        index = end
    return {
        "startIndex": start,
        "endIndex": index,
        "paragraph": {
            "elements": elements,
            "paragraphStyle": {"namedStyleType": para.style, "direction": "LEFT_TO_RIGHT"},
        },
    }


def content_json(container: list[Any], start: int) -> tuple[list[dict[str, Any]], int]:
    """Structural elements as `documents.get` gives them, with every start and end index."""
    out: list[dict[str, Any]] = []
    index = start
    for element in container:
        if isinstance(element, Paragraph):
            out.append(_paragraph_json(element, index))
            index = out[-1]["endIndex"]
            continue
        table_start, index = index, index + 1
        rows = []
        for row in element.rows:
            row_start, index = index, index + 1
            cells = []
            for cell in row:
                cell_start = index
                inner, index = content_json(cell.content, index + 1)
                cells.append(
                    {
                        "startIndex": cell_start,
                        "endIndex": index,
                        "content": inner,
                        "tableCellStyle": {"rowSpan": 1, "columnSpan": 1},
                    }
                )
            rows.append(
                {"startIndex": row_start, "endIndex": index, "tableCells": cells, "tableRowStyle": {}}
            )
        index += 1
        out.append(
            {
                "startIndex": table_start,
                "endIndex": index,
                "table": {"rows": len(element.rows), "columns": element.columns, "tableRows": rows},
            }
        )
    return out, index


def _error(code: int, message: str, reason: str, domain: str = "global") -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
                "status": _STATUS.get(code, "UNKNOWN"),
            }
        },
        status_code=code,
    )


def partial(body: dict[str, Any], fields: str) -> dict[str, Any]:
    """Drive's partial response: only the named fields, `a(b,c)` naming fields inside `a`, `a/b`
    one inside `a`; a field the item lacks (`driveId` in a My Drive) stays out."""
    out: dict[str, Any] = {}
    for name, inner in _field_list(fields):
        if name not in body:
            continue
        value = body[name]
        out[name] = partial(value, inner) if inner and isinstance(value, dict) else value
    return out


def _field_list(fields: str) -> list[tuple[str, str]]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(fields + ","):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(fields[start:i].strip())
            start = i + 1
    out = []
    for part in filter(None, parts):
        if "(" in part and part.endswith(")"):
            name, _, inner = part[:-1].partition("(")
            out.append((name.strip(), inner))
        else:
            name, _, inner = part.partition("/")
            out.append((name, inner))
    return out


def _claims(assertion: str) -> dict[str, Any]:
    payload = assertion.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def build_google_app(state: GoogleState) -> Router:
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = _claims(str(form.get("assertion", "")))
        except (IndexError, ValueError):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT"}, status_code=400
            )
        if (
            claims.get("iss") != state.client_email
            or not claims.get("scope")
            or claims.get("exp", 0) < time.time()
        ):
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status_code=400
            )
        access = f"ya29.sandbox-{uuid.uuid4().hex}"
        state.tokens.add(access)
        return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    def authed(request: Request) -> JSONResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or value not in state.tokens:
            return _error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "authError",
            )
        return None

    def file_json(f: dict[str, Any]) -> dict[str, Any]:
        out = {"kind": "drive#file", **{k: v for k, v in f.items() if v is not None}}
        if f["mimeType"] == DOC_MIME:
            # Drive's own link is on docs.google.com; the sandbox's pages say they are the sandbox's.
            out["webViewLink"] = f"{SANDBOX_WEB}/google/document/d/{f['id']}/edit"
        return out

    async def generate_ids(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        params = request.query_params
        try:
            count = int(params.get("count", "10"))
        except ValueError:
            return _error(
                400,
                f"Invalid value '{params['count']}'. Values must match the following regular expression: '-?\\d+'",
                "invalidParameter",
            )
        if not 1 <= count <= 1000:
            return _error(
                400,
                f"Invalid value '{count}'. Values must be within the range: [1, 1000]",
                "invalidParameter",
            )
        space = params.get("space", "drive")
        if space not in ("drive", "appDataFolder"):
            return _error(400, f"Invalid Value: space={space}", "invalid")
        if params.get("type", "files") not in ("files", "shortcuts"):
            return _error(400, f"Invalid Value: type={params['type']}", "invalid")
        ids = ["1" + secrets.token_urlsafe(24) for _ in range(count)]
        state.generated_ids.update(ids)
        return JSONResponse({"kind": "drive#generatedIds", "space": space, "ids": ids})

    def claimed_id(body: dict[str, Any], mime: str) -> str | JSONResponse | None:
        """The id the request body asks for, or Drive's refusal of it."""
        wanted = body.get("id")
        if wanted is None:
            return None
        if wanted in state.files:
            return _error(409, "A file already exists with the provided ID.", "duplicate")
        if wanted not in state.generated_ids:
            return _error(400, "The provided file ID is not usable.", "fileIdNotUsable")
        if mime in DOCS_EDITORS:
            return _error(
                403,
                "Generated IDs are not supported for Docs Editors formats.",
                "generatedIdNotSupported",
            )
        return str(wanted)

    async def copy(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        source = state.files.get(request.path_params["file_id"])
        if source is None or source["trashed"]:
            return _error(404, f"File not found: {request.path_params['file_id']}.", "notFound")
        body = await request.json()
        parents = body.get("parents") or source["parents"]
        if len(parents) != 1:
            return _error(403, "Increasing the number of parents is not allowed", "cannotAddParent")
        folder = state.files.get(parents[0])
        if folder is None:
            return _error(404, f"File not found: {parents[0]}.", "notFound")
        if folder["id"] in state.unwritable:
            return _error(
                403,
                "The user does not have sufficient permissions for this file.",
                "insufficientFilePermissions",
            )
        if folder.get("driveId") is None:
            return _error(
                403,
                "Service Accounts do not have storage quota. Leverage shared drives "
                "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives), "
                "or use OAuth delegation (http://support.google.com/a/answer/7281227) instead.",
                "storageQuotaExceeded",
                "usageLimits",
            )
        claimed = claimed_id(body, source["mimeType"])
        if isinstance(claimed, JSONResponse):
            return claimed
        new_id = claimed or f"doc-{uuid.uuid4().hex[:20]}"
        state.generated_ids.discard(new_id)
        state.made_at[new_id] = time.monotonic()
        state.files[new_id] = {
            **source,
            "id": new_id,
            "name": body.get("name") or f"Copy of {source['name']}",
            "parents": parents,
            "appProperties": dict(body.get("appProperties") or {}),
            "driveId": folder.get("driveId"),
            "trashed": False,
        }
        if source["id"] in state.docs:
            state.docs[new_id] = state.docs[source["id"]].copy()
            state.revisions[new_id] = 1
        return JSONResponse(file_json(state.files[new_id]))

    async def list_files(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        q = request.query_params.get("q", "")
        wanted = dict(re.findall(r"appProperties has \{\s*key='([^']+)' and value='([^']*)'\s*\}", q))
        if q and not wanted and "trashed" not in q:
            return _error(400, "Invalid Value", "invalid")
        indexed_before = time.monotonic() - state.search_lag_seconds
        found = [
            f
            for f in state.files.values()
            if all(f["appProperties"].get(k) == v for k, v in wanted.items())
            and ("trashed = false" not in q or not f["trashed"])
            and state.made_at.get(f["id"], 0.0) <= indexed_before
        ]
        return JSONResponse(
            {"kind": "drive#fileList", "incompleteSearch": False, "files": [file_json(f) for f in found]}
        )

    async def one_file(request: Request) -> Response:
        if (denied := authed(request)) is not None:
            return denied
        f = state.files.get(request.path_params["file_id"])
        if f is None:
            return _error(404, f"File not found: {request.path_params['file_id']}.", "notFound")
        if request.method == "DELETE":
            del state.files[f["id"]]
            state.docs.pop(f["id"], None)
            state.made_at.pop(f["id"], None)
            return Response(status_code=204)
        full = {**file_json(f), "capabilities": capabilities(f)}
        wanted = request.query_params.get("fields")
        return JSONResponse(partial(full, wanted) if wanted else full)

    def capabilities(f: dict[str, Any]) -> dict[str, bool]:
        """The caller's (the service account's) capabilities; canAddChildren is false for a file
        that is not a folder, and for a folder it may not write (Drive's documented meaning)."""
        folder = f["mimeType"] == FOLDER_MIME
        return {
            "canAddChildren": folder and not f["trashed"] and f["id"] not in state.unwritable,
            "canListChildren": folder,
            "canEdit": f["id"] not in state.unwritable,
        }

    def doc_json(doc_id: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"endIndex": 1, "sectionBreak": {"sectionStyle": {}}}]
        content += content_json(state.docs[doc_id].body, 1)[0]
        return {
            "documentId": doc_id,
            "title": state.files[doc_id]["name"],
            "revisionId": f"rev-{state.revisions[doc_id]}",
            "body": {"content": content},
            "suggestionsViewMode": "SUGGESTIONS_INLINE",
        }

    async def get_doc(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        doc_id = request.path_params["doc_id"]
        if doc_id not in state.docs:
            if doc_id in state.files:
                return _error(400, "This operation is not supported for this document", "failedPrecondition")
            return _error(404, "Requested entity was not found.", "notFound")
        return JSONResponse(doc_json(doc_id))

    async def batch_update(request: Request) -> JSONResponse:
        if (denied := authed(request)) is not None:
            return denied
        doc_id = request.path_params["doc_id"]
        if doc_id not in state.docs:
            return _error(404, "Requested entity was not found.", "notFound")
        body = await request.json()
        current = f"rev-{state.revisions[doc_id]}"
        control = body.get("writeControl") or {}
        if "targetRevisionId" in control:
            return _error(400, "writeControl.targetRevisionId is unsupported by the sandbox", "badRequest")
        required = control.get("requiredRevisionId")
        if required is not None and required != current:
            # Docs documents a 400 for a revision that is not the latest, not its text: this
            # message is the sandbox's own, so a client must not match on it.
            return _error(
                400,
                f"The document's revision is {current}, not the required revision {required}.",
                "badRequest",
            )
        requests = body.get("requests") or []
        working = state.docs[doc_id].copy()
        try:
            replies = apply_requests(working, requests)
        except Refused as exc:
            return _error(400, str(exc), "badRequest")
        if requests:  # applied whole, or not at all
            state.docs[doc_id].body = working.body
            state.revisions[doc_id] += 1
        return JSONResponse(
            {
                "documentId": doc_id,
                "replies": replies,
                "writeControl": {"requiredRevisionId": f"rev-{state.revisions[doc_id]}"},
            }
        )

    return Router(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/drive/v3/files", list_files),
            Route("/drive/v3/files/generateIds", generate_ids),
            Route("/drive/v3/files/{file_id}/copy", copy, methods=["POST"]),
            Route("/drive/v3/files/{file_id}", one_file, methods=["GET", "DELETE"]),
            Route("/docs/v1/documents/{doc_id}:batchUpdate", batch_update, methods=["POST"]),
            Route("/docs/v1/documents/{doc_id}", get_doc),
        ]
    )
