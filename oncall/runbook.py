"""The runbook as data: entries under product headings, with anchors and quality flags.

The handbook's style guide: products are headings, each alert entry is a lower heading
holding the alert "boiled down to the most relevant searchable text", with _Diagnosis_ and
_Mitigation_ sections. Real runbooks drift from it: full alert titles cut mid-word, `<ENV>`
placeholders, two headings sharing one body, entries missing a section, stubs. Parsing
therefore finds the entry level from where the sections are, not from a fixed depth.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from oncall.errors import InputError

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SECTION = re.compile(
    r"^\s*(?:_{1,2}|\*{1,2})?\s*(diagnosis|mitigation)\s*:?\s*(?:_{1,2}|\*{1,2})?\s*:?\s*$", re.I
)
_SECTION_HEADING = re.compile(r"^(diagnosis|mitigation)\s*:?$", re.I)
_STUB = re.compile(r"\b(stub|todo|tbd|needs love|fixme)\b", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


class Layout(StrEnum):
    """How a runbook keeps its entries; gap issues and pull requests write new ones the same way."""

    HEADINGS = "headings"  # one file, one heading per alert
    FILES = "files"  # a folder, one file per alert (`<product>/<AlertName>.md`)
    TABLE = "table"  # rows of a table whose column is headed Alert, Alertname or Name


class EntryForm(StrEnum):
    HEADING = "heading"
    FILE = "file"
    ROW = "row"


class RunbookEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str  # as written: the heading, the file's H1 or the table cell
    product: str | None
    line: int
    anchor: str  # GitHub's id of the heading; "" for a whole file
    name: str = ""  # the alert name without decoration (`Alert: `, quotes, tags); "" means `title`
    path: str = ""  # the file, relative to the runbook's root; "" for a one-file runbook
    form: EntryForm = EntryForm.HEADING
    has_diagnosis: bool
    has_mitigation: bool
    stub: bool

    @property
    def key(self) -> str:
        """What matching reads: the alert name when the layout gave one, else the title."""
        return self.name or self.title

    @property
    def flags(self) -> list[str]:
        out = []
        if not self.has_diagnosis:
            out.append("no Diagnosis")
        if not self.has_mitigation:
            out.append("no Mitigation")
        if self.stub:
            out.append("stub")
        return out


class Runbook(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    url: str | None = None  # the rendered file, or the folder: entries' paths and anchors are appended
    entries: tuple[RunbookEntry, ...]
    products: tuple[str, ...]
    layout: Layout = Layout.HEADINGS
    entry_level: int = 3
    section_marker: str = "_{}_"  # how this runbook writes its section titles: "_{}_" lines or "## {}"
    sections: tuple[str, ...] = ("Diagnosis", "Mitigation")  # the section template entries follow
    anchors: dict[str, frozenset[str]] = {}  # every heading anchor of every file read, by path
    repo: str | None = None  # owner/name on GitHub, when read from there (links into it are checked)
    ref: str | None = None
    root: str = ""  # the file or folder inside `repo`

    def link(self, entry: RunbookEntry) -> str | None:
        if not self.url:
            return None
        base = f"{self.url}/{entry.path}" if entry.path else self.url
        return f"{base}#{entry.anchor}" if entry.anchor else base


def github_anchor(heading: str, seen: Counter[str]) -> str:
    """GitHub's heading id: rendered text lowercased, punctuation dropped, spaces to hyphens, -N for repeats."""
    text = _LINK.sub(r"\1", heading)
    text = _HTML_TAG.sub("", text)  # GitHub renders `<ENV>` as a tag and strips it
    text = text.replace("`", "")
    slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
    count = seen[slug]
    seen[slug] += 1
    return slug if count == 0 else f"{slug}-{count}"


class _Heading(BaseModel):
    level: int
    text: str
    line: int
    body: list[str]
    anchor: str


def _headings(text: str) -> list[_Heading]:
    out: list[_Heading] = []
    seen: Counter[str] = Counter()
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * len(marker)
            elif marker.startswith(fence):
                fence = None
        h = None if fence is not None or m else _HEADING.match(line)
        if h:
            title = h.group(2).strip()
            out.append(
                _Heading(
                    level=len(h.group(1)), text=title, line=number, body=[], anchor=github_anchor(title, seen)
                )
            )
        elif out:
            out[-1].body.append(line)
    return out


def _is_section(h: _Heading) -> bool:
    return bool(_SECTION_HEADING.match(h.text.strip("_* ")))


def parse_runbook(text: str, source: str = "runbook", url: str | None = None) -> Runbook:
    """Entries of a markdown runbook. Raises InputError for input that is not a usable runbook."""
    if not text.strip():
        raise InputError(f"runbook {source} is empty")
    head = text.lstrip()[:200].lower()
    if "\x00" in text or (head.startswith(("<!doctype", "<html", "{", "[")) and not head.startswith("[!")):
        raise InputError(f"runbook {source} does not look like markdown (is it HTML, JSON or binary?)")
    headings = _headings(text)
    if not headings:
        raise InputError(f"runbook {source} has no markdown headings, so it has no entries")

    # Section markers (lines or sub-headings) attach to the nearest non-section heading above.
    marks: dict[int, set[str]] = {}
    owner: _Heading | None = None
    for h in headings:
        if _is_section(h) and owner is not None:
            marks.setdefault(owner.line, set()).add(h.text.strip("_*: ").lower())
            continue
        owner = h
        for line in h.body:
            m = _SECTION.match(line)
            if m:
                marks.setdefault(h.line, set()).add(m.group(1).lower())
    plain = [h for h in headings if not _is_section(h)]
    marker_lines = [ln for h in headings for ln in h.body if _SECTION.match(ln)]
    style = "_{}_"
    if marker_lines:
        sample = marker_lines[0].strip()
        style = re.sub(r"(?i)diagnosis|mitigation", "{}", sample, count=1)
    with_sections = Counter(h.level for h in plain if h.line in marks)
    if with_sections:
        level = max(with_sections.items(), key=lambda kv: (kv[1], kv[0]))[0]
    else:
        counts = Counter(h.level for h in plain)
        level = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]

    entries: list[RunbookEntry] = []
    product: str | None = None
    pending: list[_Heading] = []  # entry headings with no body yet: they share the next body

    def flush(body_owner: _Heading) -> None:
        found = marks.get(body_owner.line, set())
        body_text = "\n".join(body_owner.body)
        for h in pending:
            entries.append(
                RunbookEntry(
                    title=h.text,
                    product=product,
                    line=h.line,
                    anchor=h.anchor,
                    has_diagnosis="diagnosis" in found,
                    has_mitigation="mitigation" in found,
                    stub=bool(
                        _STUB.search(h.text)
                        or (not body_text.strip() and not found)
                        or _STUB.search(body_text[:200])
                    ),
                )
            )
        pending.clear()

    for h in plain:
        if h.level < level:
            if pending:
                flush(pending[-1])
            product = h.text if h.level == level - 1 else None
            continue
        if h.level > level:
            continue
        pending.append(h)
        if any(line.strip() for line in h.body) or h.line in marks:
            flush(h)
    if pending:
        flush(pending[-1])
    if not entries:
        raise InputError(f"runbook {source} has headings but no entries under them")
    products = list(dict.fromkeys(e.product for e in entries if e.product))
    return Runbook(
        source=source,
        url=url,
        entries=tuple(entries),
        products=tuple(products),
        entry_level=level,
        section_marker=style,
    )


class RunbookSource(BaseModel):
    """Where the runbook lives: `owner/repo:path@ref` on GitHub, or a local file."""

    model_config = ConfigDict(frozen=True)

    repo: str | None = None
    path: str
    ref: str | None = None

    @classmethod
    def parse(cls, text: str) -> RunbookSource:
        text = text.strip()
        m = re.fullmatch(r"([\w.-]+/[\w.-]+):([^@]+?)(?:@(.+))?", text)
        if m and not text.startswith(("/", ".", "file:")):
            return cls(repo=m.group(1), path=m.group(2), ref=m.group(3))
        if not text:
            raise InputError(
                "no runbook given: set ONCALL_RUNBOOK to 'owner/repo:path@ref' or a local file path"
            )
        return cls(path=text.removeprefix("file:"))

    def __str__(self) -> str:
        return f"{self.repo}:{self.path}" + (f"@{self.ref}" if self.ref else "") if self.repo else self.path

    def web_url(self, web_base: str = "https://github.com") -> str | None:
        if not self.repo:
            return None
        return f"{web_base}/{self.repo}/blob/{self.ref or 'HEAD'}/{self.path}"
