"""Markdown read as GitHub reads it: block structure, rendered text, heading anchors, front matter.

Runbooks are markdown on GitHub, and links into them name GitHub's heading anchors, so a
heading is what CommonMark (markdown-it) says it is: a ```` ```bash ```` line inside a fence stays
code, and setext (`Title` over `===`) and ATX headings both count. Raw HTML `<h2>` is not read
as a heading: what GitHub makes of it depends on its sanitiser, so no anchor is promised. Files as editors save them (a byte order mark, CRLF or lone CR line
ends, `---` front matter) read the same as plain LF files, with line numbers kept.

What a runbook makes of the headings, tables and paragraphs lives in oncall/runbook.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token


@cache
def _parser(inline: bool) -> MarkdownIt:
    """markdown-it, loaded on the first parse: importing it takes about 0.1 s, which every
    `import oncall.gaps` paid though most callers never parse a runbook.

    Without inline, block structure only: inline content is parsed on demand (headings, table
    cells), which keeps a 600 KB runbook well under the time budget."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    return md if inline else md.disable("inline")


# Characters that can start inline markup; a bracket only with a link's `](` or `][`.
_INLINE_SYNTAX = re.compile(r"[`*_<>&\\!~]|\]\(|\]\[|\n")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M)
_HTML_HEADING = re.compile(r"^ {0,3}<h[1-6][\s>]", re.I | re.M)
BOM = "\ufeff"


@dataclass
class Heading:
    index: int
    level: int
    raw: str  # the inline markdown as written
    text: str  # as rendered
    line: int  # 1-based
    end: int  # 0-based line after the heading
    anchor: str


@dataclass
class Table:
    heading: int | None  # index of the heading above it
    header: list[str]  # rendered
    rows: list[tuple[int, list[str]]]  # (1-based line, raw cells)


@dataclass
class Document:
    lines: list[str]  # line ends normalised, front matter blanked
    headings: list[Heading]
    tables: list[Table]
    paragraphs: list[tuple[int, str]]  # (index of the heading above, raw text) after the first heading
    env: dict[str, Any]  # link reference definitions, for rendering inline text later


def normalise(text: str) -> str:
    """One line end and no byte order mark: editors on Windows save both, and GitHub ignores them."""
    return text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n")


def _plain(children: Sequence[Token]) -> str:
    """The text GitHub renders: code spans keep their text, links their text, tags and markers go."""
    out: list[str] = []
    for t in children:
        if t.type in ("text", "code_inline"):
            out.append(t.content)
        elif t.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif t.children and t.type != "image":  # an image's alt text is not in the page's text
            out.append(_plain(t.children))
    return "".join(out)


def render_plain(raw: str, env: dict[str, Any] | None = None) -> str:
    """Inline markdown as the text GitHub shows (and slugs into an anchor)."""
    if not _INLINE_SYNTAX.search(raw) and not (env or {}).get("references"):
        return raw  # nothing to render: most headings, and a fast path for big runbooks
    tokens = _parser(inline=True).parseInline(raw, dict(env or {}))
    return _plain(tokens[0].children or []) if tokens else ""


def _slug(text: str, seen: Counter[str]) -> str:
    slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
    count = seen[slug]
    seen[slug] += 1
    return slug if count == 0 else f"{slug}-{count}"


def github_anchor(heading: str, seen: Counter[str]) -> str:
    """GitHub's heading id: rendered text lowercased, punctuation dropped, spaces to hyphens, -N for repeats."""
    return _slug(render_plain(heading.strip()), seen)


def _front_matter_end(text: str) -> re.Match[str] | None:
    """The closing line of front matter that opens `text` (normalised), if it has any."""
    first_end = text.find("\n")
    if not text.startswith("---") or first_end < 0 or text[:first_end].strip() != "---":
        return None
    return _FRONT_MATTER_END.search(text, first_end + 1)


def _without_front_matter(text: str) -> str:
    """Front matter is metadata, not a rule and a heading: blank it, keeping line numbers."""
    m = _front_matter_end(text)
    if not m:
        return text
    return "\n" * text[: m.end()].count("\n") + text[m.end() :]


def front_matter_title(text: str) -> str | None:
    """The `title:` of a page's front matter (runbook sites name a page's alert there)."""
    text = normalise(text)
    m = _front_matter_end(text)
    if not m:
        return None
    t = re.search(r"^title:[ \t]*(.+?)[ \t]*$", text[: m.start()], re.M)
    return t.group(1).strip("\"' ") if t else None


def has_html_headings(text: str) -> bool:
    return bool(_HTML_HEADING.search(text))


def read(text: str) -> Document:
    """One pass over the block tokens: headings with GitHub's anchors, tables with their rows'
    raw cells, and the paragraphs under each heading."""
    text = _without_front_matter(normalise(text))
    env: dict[str, Any] = {}
    tokens = _parser(inline=False).parse(text, env)
    headings: list[Heading] = []
    tables: list[Table] = []
    paragraphs: list[tuple[int, str]] = []
    seen: Counter[str] = Counter()
    i = 0
    in_table: Table | None = None
    in_head = False
    row: list[str] | None = None
    row_line = 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open" and t.map:
            raw = tokens[i + 1].content
            rendered = render_plain(raw, env)
            headings.append(
                Heading(
                    index=len(headings),
                    level=int(t.tag[1]),
                    raw=raw,
                    text=rendered,
                    line=t.map[0] + 1,
                    end=t.map[1],
                    anchor=_slug(rendered, seen),
                )
            )
            i += 3
            continue
        if t.type == "paragraph_open" and headings:
            paragraphs.append((len(headings) - 1, tokens[i + 1].content))
        elif t.type == "table_open":
            in_table = Table(heading=headings[-1].index if headings else None, header=[], rows=[])
        elif t.type == "thead_open":
            in_head = True
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open":
            row, row_line = [], (t.map[0] + 1 if t.map else 0)
        elif t.type == "inline" and row is not None:
            row.append(t.content)
        elif t.type == "tr_close" and in_table is not None and row is not None:
            if in_head:
                in_table.header = [render_plain(c, env) for c in row]
            else:
                in_table.rows.append((row_line, row))
            row = None
        elif t.type == "table_close" and in_table is not None:
            tables.append(in_table)
            in_table = None
        i += 1
    return Document(text.split("\n"), headings, tables, paragraphs, env)


def heading_anchors(text: str) -> frozenset[str]:
    """Every GitHub heading anchor of a markdown text (links into a runbook are checked against these)."""
    return frozenset(h.anchor for h in read(text).headings)
