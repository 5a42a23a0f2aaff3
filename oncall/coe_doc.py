"""A COE document as blocks (headings, paragraphs, tables), however it was read back.

Pure. coe-review compares a document with its template and reads its corrective-actions table,
so it needs the structure the flat text loses: which paragraphs are headings, which text sits in
which table cell, and where a table starts (the write-back of an issue link needs the cell's
index). Two readers give the same blocks:

- `blocks_from_docs`: a Docs v1 `documents.get` body, as the discovery document describes it
  (heading styles, bullets, table rows and cells, person, rich-link and date chips);
- `blocks_from_markdown`: the default template (`templates/coe.md`) and the markdown COEs kept
  in git, read line by line as `template_docx` and the Docs fake read them.

A run of paragraphs that each look like a pipe-table row (a markdown file pasted into Docs, or
imported as text) is read as the table it shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from oncall.models import Frozen


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    TABLE = "table"


class Cell(Frozen):
    text: str
    links: tuple[str, ...] = ()  # hyperlinks and rich-link chips in the cell
    start_index: int | None = None  # Docs index of the cell's first character, for a write-back


class Block(Frozen):
    kind: BlockKind
    text: str = ""  # a heading's or paragraph's text; lines kept
    level: int = 0  # a heading's level (1 for Docs' TITLE)
    rows: tuple[tuple[Cell, ...], ...] = ()  # a table's rows, the header first
    links: tuple[str, ...] = ()
    start_index: int | None = None  # Docs index where the block starts


class CellLink(Frozen):
    """Linked text to write into an empty table cell: `index` is the cell's `start_index` as read."""

    index: int
    text: str
    url: str


_HEADING_STYLE = re.compile(r"HEADING_([1-6])")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```+|~~~+)")
_RULE_CELL = re.compile(r":?-+:?")
_DOC_LINK = re.compile(r"/document/d/([A-Za-z0-9_-]{10,})")
_DOC_ID = re.compile(r"[A-Za-z0-9_-]{10,}")


def document_id(link: str) -> str | None:
    """The Docs id in a tracker's link (`https://docs.google.com/document/d/<id>/edit`), or the
    cell itself when it is a bare id; None when it is neither (a person typed something else)."""
    text = link.strip()
    if m := _DOC_LINK.search(text):
        return m.group(1)
    return text if _DOC_ID.fullmatch(text) else None


# -- markdown ---------------------------------------------------------------------------------


def _pipe_cells(line: str) -> list[str] | None:
    """The cells of a pipe-table row, or None when the line is not one."""
    stripped = line.strip()
    if not stripped.startswith("|") or len(stripped) < 2:
        return None
    return [c.strip() for c in stripped.strip("|").split("|")]


def _is_rule(cells: list[str]) -> bool:
    return bool(cells) and all(_RULE_CELL.fullmatch(c) for c in cells)


def _table(rows: list[list[str]]) -> Block:
    return Block(kind=BlockKind.TABLE, rows=tuple(tuple(Cell(text=c) for c in r) for r in rows))


def blocks_from_markdown(text: str) -> tuple[Block, ...]:
    """ATX headings, pipe tables and paragraphs (one per non-blank line; a fenced block's lines
    are text, never headings)."""
    out: list[Block] = []
    table: list[list[str]] = []
    fence: str | None = None
    for line in text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        cells = _pipe_cells(line) if fence is None else None
        if cells is not None:
            if not _is_rule(cells):
                table.append(cells)
            continue
        if table:
            out.append(_table(table))
            table = []
        if m := _FENCE.match(line):
            marker = m.group(1)[0]
            fence = marker if fence is None else (None if fence == marker else fence)
        heading = _ATX.match(line) if fence is None else None
        if heading:
            out.append(
                Block(kind=BlockKind.HEADING, level=len(heading.group(1)), text=heading.group(2) or "")
            )
        elif line.strip():
            out.append(Block(kind=BlockKind.PARAGRAPH, text=line))
    if table:
        out.append(_table(table))
    return tuple(out)


# -- Docs -------------------------------------------------------------------------------------


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _element_text(element: Mapping[str, Any]) -> tuple[str, str | None]:
    """One paragraph element's text and link: text runs, and the chips Docs shows as text."""
    if run := _dict(element.get("textRun")):
        link = _dict(_dict(run.get("textStyle")).get("link")).get("url")
        return str(run.get("content", "")), str(link) if link else None
    if person := _dict(_dict(element.get("person")).get("personProperties")):
        return str(person.get("name") or person.get("email") or ""), None
    if rich := _dict(_dict(element.get("richLink")).get("richLinkProperties")):
        uri = rich.get("uri")
        return str(rich.get("title") or uri or ""), str(uri) if uri else None
    if date := _dict(_dict(element.get("dateElement")).get("dateElementProperties")):
        return str(date.get("displayText") or ""), None
    return "", None


def _paragraph(element: Mapping[str, Any]) -> tuple[str, tuple[str, ...], str]:
    """A paragraph's text (soft breaks as line breaks, the closing newline dropped), links, style."""
    para = _dict(element.get("paragraph"))
    parts: list[str] = []
    links: list[str] = []
    for el in _list(para.get("elements")):
        text, link = _element_text(_dict(el))
        parts.append(text)
        if link:
            links.append(link)
    text = "".join(parts).removesuffix("\n").replace("\x0b", "\n")
    style = str(_dict(para.get("paragraphStyle")).get("namedStyleType", "NORMAL_TEXT"))
    return text, tuple(links), style


def _cell(cell: Mapping[str, Any]) -> Cell:
    texts: list[str] = []
    links: list[str] = []
    content = _list(cell.get("content"))
    for element in content:
        element = _dict(element)
        if "paragraph" in element:
            text, found, _ = _paragraph(element)
            texts.append(text)
            links.extend(found)
        elif "table" in element:  # a table in a cell: its text, flattened
            for row in _list(_dict(element.get("table")).get("tableRows")):
                for inner in _list(_dict(row).get("tableCells")):
                    nested = _cell(_dict(inner))
                    texts.append(nested.text)
                    links.extend(nested.links)
    first = _dict(content[0]).get("startIndex") if content else None
    return Cell(
        text="\n".join(t for t in texts if t.strip()),
        links=tuple(links),
        start_index=first if isinstance(first, int) else None,
    )


def _docs_body(document: Mapping[str, Any]) -> list[Any]:
    """The body's content; a document read with tabs gives its first tab's."""
    if "body" in document:
        return _list(_dict(document.get("body")).get("content"))
    for tab in _list(document.get("tabs")):
        return _list(_dict(_dict(_dict(tab).get("documentTab")).get("body")).get("content"))
    return []


def blocks_from_docs(document: Mapping[str, Any]) -> tuple[Block, ...]:
    """A `documents.get` answer as blocks. Unknown elements (section breaks, tables of contents)
    are skipped; a malformed answer gives fewer blocks, never an exception."""
    out: list[Block] = []
    for element in _docs_body(document):
        element = _dict(element)
        start = element.get("startIndex")
        start = start if isinstance(start, int) else None
        if "paragraph" in element:
            text, links, style = _paragraph(element)
            heading = _HEADING_STYLE.fullmatch(style)
            if heading or style == "TITLE":
                level = int(heading.group(1)) if heading else 1
                out.append(
                    Block(kind=BlockKind.HEADING, level=level, text=text, links=links, start_index=start)
                )
            elif text.strip():
                out.append(Block(kind=BlockKind.PARAGRAPH, text=text, links=links, start_index=start))
        elif "table" in element:
            rows = tuple(
                tuple(_cell(_dict(c)) for c in _list(_dict(r).get("tableCells")))
                for r in _list(_dict(element.get("table")).get("tableRows"))
            )
            out.append(Block(kind=BlockKind.TABLE, rows=rows, start_index=start))
    return _pipe_tables(out)


def _pipe_tables(blocks: Iterable[Block]) -> tuple[Block, ...]:
    """Runs of paragraphs that are pipe-table rows, as the tables they show."""
    out: list[Block] = []
    run: list[list[str]] = []
    for block in blocks:
        cells = _pipe_cells(block.text) if block.kind is BlockKind.PARAGRAPH else None
        if cells is not None:
            if not _is_rule(cells):
                run.append(cells)
            continue
        if run:
            out.append(_table(run))
            run = []
        out.append(block)
    if run:
        out.append(_table(run))
    return tuple(out)
