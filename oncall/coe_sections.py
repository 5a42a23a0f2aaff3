"""Which sections of a COE the team has written, judged against the team's own template.

Pure. The template is the reference: a template line with a `{{placeholder}}` is a fact that
coe-prep fills, a line without one is a prompt the team answers. A section whose template body
holds prompts is one to write; one with facts only is prefilled, and left out of the figure.

A document's line is the template's when its words are the prompt's words, in order, some
perhaps deleted (bullets, numbering, emphasis, spacing and case never count), or when it still
reads as a fact line with any value in place of each placeholder. A line that is only a
placeholder (`{{timeline}}`) may fill many lines: the unmatched lines between the template lines
around it are its value. Any other line is the team's writing. So an answer typed after a prompt,
or in place of one, makes the section written; deleting the prompts and writing nothing does not.

Sections are matched by heading (numbering, case and punctuation aside), then a renamed one by
its heading's words or the prompts it still holds, then by its place between matched neighbours.
A template section the document no longer has is missing and counts as unwritten; a section the
document adds is listed and does not count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from oncall.coe import PLACEHOLDER
from oncall.coe_doc import Block, BlockKind
from oncall.models import Frozen

_LIST_MARK = re.compile(r"^\s*(?:[-*+•◦▪‣·>]+|\(?\d+[.)]|\[[ xX]?\])\s+")
_WORD = re.compile(r"[^\W_]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")


class SectionState(StrEnum):
    WRITTEN = "written"
    PROMPTS = "prompts only"  # the template's prompts, perhaps trimmed, and nothing else
    EMPTY = "empty"  # the prompts were deleted and nothing was written
    MISSING = "missing"  # the document has no such section
    PREFILLED = "prefilled"  # the template asks nothing here: coe-prep's facts


class SectionStatus(Frozen):
    name: str  # the template's heading
    found_as: str | None  # the document's heading, when the section was found
    state: SectionState
    written_lines: int = 0


class Completeness(Frozen):
    sections: tuple[SectionStatus, ...]
    extra: tuple[str, ...] = ()  # the document's headings the template does not have

    @property
    def to_write(self) -> tuple[SectionStatus, ...]:
        return tuple(s for s in self.sections if s.state is not SectionState.PREFILLED)

    @property
    def written(self) -> int:
        return sum(s.state is SectionState.WRITTEN for s in self.to_write)

    @property
    def total(self) -> int:
        return len(self.to_write)

    @property
    def ratio(self) -> float:
        """Written over sections to write; 1.0 for a template that asks nothing."""
        return self.written / self.total if self.total else 1.0

    @property
    def complete(self) -> bool:
        return self.written == self.total

    @property
    def unwritten(self) -> tuple[SectionStatus, ...]:
        return tuple(s for s in self.to_write if s.state is not SectionState.WRITTEN)

    @property
    def figure(self) -> str:
        """`3/7 sections (43%)`"""
        return f"{self.written}/{self.total} sections ({self.ratio:.0%})"


def words(text: str) -> tuple[str, ...]:
    """A line's words: list markers, emphasis, punctuation, case and invisible characters aside."""
    text = _LIST_MARK.sub("", _INVISIBLE.sub("", text))
    return tuple(w.casefold() for w in _WORD.findall(text))


def in_order(short: Sequence[str], long: Sequence[str]) -> bool:
    """Whether `short` is `long` with some words deleted (none added, none moved)."""
    it = iter(long)
    return all(any(w == x for x in it) for w in short)


class _Line(Frozen):
    words: tuple[str, ...]  # a prompt's words; a fact line's literal words
    fact: tuple[tuple[str, ...], ...] | None = None  # a fact line's literal words around its placeholders
    block: bool = False  # only a placeholder: its value may span lines


def _template_line(text: str) -> _Line:
    parts = PLACEHOLDER.split(text)
    if len(parts) == 1:
        return _Line(words=words(text))
    literal = tuple(words(p) for p in parts[::2])  # split keeps each placeholder's name at odd indexes
    return _Line(words=tuple(w for ws in literal for w in ws), fact=literal, block=not any(literal))


def _find(haystack: tuple[str, ...], needle: tuple[str, ...], start: int, end: int) -> int:
    for i in range(start, end - len(needle) + 1):
        if haystack[i : i + len(needle)] == needle:
            return i
    return -1


def _fact_matches(literal: tuple[tuple[str, ...], ...], doc_words: tuple[str, ...]) -> bool:
    """The words read as the fact line with some value (perhaps none) for each placeholder: the
    first literal opens the line, the last closes it, the others come in order between. Leftmost
    matching decides it in one pass, so a hostile line cannot make it slow."""
    first, last = literal[0], literal[-1]
    pos, end = len(first), len(doc_words) - len(last)
    if end < pos or doc_words[:pos] != first or doc_words[end:] != last:
        return False
    for middle in literal[1:-1]:
        if middle and (pos := _find(doc_words, middle, pos, end)) < 0:
            return False
        pos += len(middle)
    return True


def _matches(line: _Line, doc_words: tuple[str, ...]) -> bool:
    if line.block:
        return False
    if line.fact is not None:
        return _fact_matches(line.fact, doc_words)
    return bool(line.words) and in_order(doc_words, line.words)


@dataclass(frozen=True)
class _Section:
    heading: str
    head: _Line
    lines: tuple[str, ...]
    line_words: tuple[tuple[str, ...], ...]
    heading_words: tuple[str, ...]

    @classmethod
    def of(cls, heading: str, lines: tuple[str, ...]) -> _Section:
        line_words = tuple(words(line) for line in lines)
        return cls(heading, _template_line(heading), lines, line_words, words(heading))


def _lines(blocks: Sequence[Block]) -> tuple[str, ...]:
    out: list[str] = []
    for b in blocks:
        if b.kind is BlockKind.TABLE:
            out += [line for row in b.rows for cell in row for line in cell.text.split("\n")]
        else:
            out += b.text.split("\n")
    return tuple(line for line in out if line.strip())


def _sections(blocks: Sequence[Block]) -> tuple[_Section, ...]:
    """The blocks cut at every heading, whatever its level; text before the first heading is an
    untitled section only when there is some."""
    out: list[_Section] = []
    heading: str | None = None
    body: list[Block] = []

    def close() -> None:
        if heading is not None or _lines(body):
            out.append(_Section.of(heading or "", _lines(body)))

    for b in blocks:
        if b.kind is BlockKind.HEADING:
            close()
            heading, body = b.text, []
        else:
            body.append(b)
    close()
    return tuple(out)


def _same_heading(t: _Section, d: _Section) -> bool:
    dw = d.heading_words
    return _matches(t.head, dw) and len(dw) >= len(t.head.words) if t.head.fact else t.head.words == dw


class _Evidence:
    """What shows a renamed section: its heading keeps the template's words, or adds to them,
    or it still holds one of the template's longer prompts."""

    def __init__(self, template: Sequence[_Section], parsed: Sequence[tuple[_Line, ...]]) -> None:
        self._prompts = [
            {line.words for line in lines if line.fact is None and len(line.words) >= 4} for lines in parsed
        ]
        self._index = {id(t): i for i, t in enumerate(template)}

    def __call__(self, t: _Section, d: _Section) -> bool:
        tw, dw = set(t.head.words), set(d.heading_words)
        if tw and dw and (tw <= dw or dw <= tw):
            return True
        prompts = self._prompts[self._index[id(t)]]
        return bool(prompts) and any(w in prompts for w in d.line_words)


def _match(
    template: Sequence[_Section], parsed: Sequence[tuple[_Line, ...]], doc: Sequence[_Section]
) -> dict[int, int]:
    """Template section index -> document section index."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for test in (_same_heading, _Evidence(template, parsed)):
        for ti, t in enumerate(template):
            if ti in pairs:
                continue
            di = next((i for i, d in enumerate(doc) if i not in used and test(t, d)), None)
            if di is not None:
                pairs[ti] = di
                used.add(di)

    # In place: one unmatched template section and one unmatched document section between the
    # same matched neighbours are the same section, renamed and rewritten.
    def neighbours(ti: int) -> tuple[int, int]:
        before = max((pairs[i] for i in pairs if i < ti), default=-1)
        return before, min((pairs[i] for i in pairs if i > ti), default=len(doc))

    for ti in range(len(template)):
        if ti in pairs:
            continue
        before, after = neighbours(ti)
        gap_t = [i for i in range(len(template)) if i not in pairs and neighbours(i) == (before, after)]
        gap_d = [i for i in range(before + 1, after) if i not in used]
        if len(gap_t) == 1 and len(gap_d) == 1:
            pairs[ti] = gap_d[0]
            used.add(gap_d[0])
    return pairs


def _asks(lines: tuple[_Line, ...]) -> bool:
    """Whether a template section has a prompt to answer."""
    return any(line.fact is None and line.words for line in lines)


def _state(tlines: tuple[_Line, ...], d: _Section) -> tuple[SectionState, int]:
    if not _asks(tlines):
        return SectionState.PREFILLED, 0
    dwords = d.line_words
    matched: list[int | None] = [
        next((i for i, tl in enumerate(tlines) if _matches(tl, dw)), None) for dw in dwords
    ]
    first_at: dict[int, int] = {}
    for pos, ti in enumerate(matched):
        if ti is not None:
            first_at.setdefault(ti, pos)
    value: set[int] = set()
    for bi, tl in enumerate(tlines):
        if not tl.block:
            continue
        start = max((first_at[i] for i in first_at if i < bi), default=-1)
        end = min((first_at[i] for i in first_at if i > bi), default=len(dwords))
        value.update(range(start + 1, end))
    novel = [
        pos
        for pos, (dw, ti) in enumerate(zip(dwords, matched, strict=True))
        if dw and ti is None and pos not in value
    ]
    if novel:
        return SectionState.WRITTEN, len(novel)
    prompts_left = any(ti is not None and tlines[ti].fact is None for ti in matched)
    return (SectionState.PROMPTS if prompts_left else SectionState.EMPTY), 0


def completeness(template: Sequence[Block], document: Sequence[Block]) -> Completeness:
    """Each template section's state in the document, and the document's extra sections."""
    ts, ds = _sections(template), _sections(document)
    parsed = [tuple(_template_line(line) for line in t.lines) for t in ts]
    pairs = _match(ts, parsed, ds)
    out: list[SectionStatus] = []
    for ti, t in enumerate(ts):
        name = t.heading or "(opening)"
        if ti not in pairs:
            state = SectionState.MISSING if _asks(parsed[ti]) else SectionState.PREFILLED
            out.append(SectionStatus(name=name, found_as=None, state=state))
            continue
        d = ds[pairs[ti]]
        state, written = _state(parsed[ti], d)
        out.append(
            SectionStatus(name=name, found_as=d.heading or "(opening)", state=state, written_lines=written)
        )
    matched = set(pairs.values())
    extra = tuple(d.heading or "(opening)" for i, d in enumerate(ds) if i not in matched)
    return Completeness(sections=tuple(out), extra=extra)
