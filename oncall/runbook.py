"""The runbook as data: entries under product headings, with anchors and quality flags.

The handbook's style guide: products are headings, each alert entry is a lower heading
holding the alert "boiled down to the most relevant searchable text", with _Diagnosis_ and
_Mitigation_ sections. Real runbooks drift from it: full alert titles cut mid-word, `<ENV>`
placeholders, two headings sharing one body, entries missing a section, stubs. Other teams keep
one file per alert, or a table of alerts. Parsing therefore reads the markdown as GitHub does
(CommonMark, so a ```` ```bash ```` line inside a fence stays code) and finds the entry level
from where the sections are, not from a fixed depth.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from oncall import markdown
from oncall.errors import InputError
from oncall.markdown import BOM, Heading, Table, front_matter_title, render_plain
from oncall.markdown import github_anchor as github_anchor  # public here since before the split
from oncall.markdown import heading_anchors as heading_anchors

RUNBOOK_SUFFIXES = (".md", ".markdown")

_DIAGNOSIS = frozenset(
    {"diagnosis", "diagnose", "diagnostics", "investigation", "investigate", "triage", "troubleshooting"}
)
_MITIGATION = frozenset(
    {"mitigation", "mitigate", "mitigations", "resolution", "remediation", "resolve", "fix", "how to fix"}
)
_OTHER_SECTIONS = frozenset(
    {
        "summary",
        "impact",
        "notes",
        "note",
        "symptoms",
        "steps",
        "escalation",
        "escalate",
        "dashboards",
        "dashboard",
        "description",
        "overview",
        "meaning",
        "context",
        "background",
        "cause",
        "causes",
        "possible causes",
        "root cause",
        "severity",
        "owner",
        "owners",
        "contacts",
        "links",
        "references",
        "see also",
        "related alerts",
        "verification",
        "rollback",
        "alert details",
        "queries",
        "actions",
        "solution",
        "workaround",
        "recovery",
    }
)
_SECTION_WORDS = _DIAGNOSIS | _MITIGATION | _OTHER_SECTIONS
_MARK_WORDS = "|".join(sorted((re.escape(w) for w in _DIAGNOSIS | _MITIGATION), key=len, reverse=True))
# A marker line: `_Diagnosis_`, `**Mitigation:**`, `Diagnosis:` alone, or leading a paragraph's text.
_SECTION = re.compile(
    rf"^\s*(?:_{{1,2}}|\*{{1,2}})?\s*({_MARK_WORDS})\s*:?\s*(?:_{{1,2}}|\*{{1,2}})?\s*:?\s*$", re.I
)
_SECTION_LEAD = re.compile(
    rf"^\s*(?:_{{1,2}}|\*{{1,2}})\s*({_MARK_WORDS})\s*:?\s*(?:_{{1,2}}|\*{{1,2}})\s*:?\s", re.I
)
_STUB = re.compile(r"\b(stub|todo|tbd|needs love|fixme)\b", re.I)
_SHORT_BODY = 300  # characters of text under which a TODO anywhere makes the entry a stub
_LABEL = re.compile(r"^\s*(?:alert[ _-]?name|alert)\s*[:=]\s*", re.I)
_TAG = re.compile(r"\s*(?:\[[^\[\]]{1,24}\]|\([^()]{1,24}\))\s*$")
_QUOTES = "\"'`“”‘’"
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.:-]*")
_ALERT_COLUMNS = ("alert", "alertname", "alert name", "alerts", "name")
_DIAGNOSIS_COLUMNS = frozenset(
    {"description", "diagnosis", "summary", "meaning", "symptoms", "cause", "details"}
)
_MITIGATION_COLUMNS = frozenset(
    {"action", "actions", "runbook", "mitigation", "resolution", "remediation", "fix", "steps", "response"}
)
_NOT_BODY_COLUMNS = frozenset({"severity", "priority", "level", "team", "owner", "service", "component"})
_INDEX_PAGES = frozenset(
    {"readme", "_index", "index", "summary", "contributing", "changelog", "license", "template"}
)
_ALERT_STEM = re.compile(r"[A-Z][A-Za-z0-9]*[a-z0-9][A-Z][A-Za-z0-9]*|[A-Za-z]+(?:_[A-Za-z0-9]+)+")
_REPEATS = 3  # a sub-heading title seen under this many entries is a section, never an entry


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
    # How this runbook writes its section titles: "_{}_" lines, "**{}**" lines or "## {}" headings.
    # For a table it is "| {} |": `sections` are then the alert table's other columns, in order.
    section_marker: str = "_{}_"
    sections: tuple[str, ...] = ("Diagnosis", "Mitigation")  # the section template entries follow
    anchors: dict[str, frozenset[str]] = {}  # every heading anchor of every file read, by path
    repo: str | None = None  # owner/name on GitHub, when read from there (links into it are checked)
    ref: str | None = None
    root: str = ""  # the file or folder inside `repo`

    def link(self, entry: RunbookEntry) -> str | None:
        """Where a person reads the entry; a path's spaces and `#` are quoted, or the link breaks."""
        if not self.url:
            return None
        base = f"{self.url}/{quote(entry.path)}" if entry.path else self.url
        return f"{base}#{entry.anchor}" if entry.anchor else base


# --- the markdown, as a runbook reads it -----------------------------------------------------


@dataclass
class _Heading(Heading):
    section: bool = False  # a part of the entry above it (Diagnosis, Summary, a repeated template title)
    marks: set[str] = field(default_factory=set)  # diagnosis / mitigation found in its own text


@dataclass
class _Doc:
    lines: list[str]
    headings: list[_Heading]
    tables: list[Table]
    marker_styles: list[str]  # how marker lines write a section, in order of appearance
    env: dict[str, Any]


def _section_key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip("_*:").strip().rstrip(":").strip()).lower()


def _read(text: str) -> _Doc:
    """The markdown with each heading's own Diagnosis/Mitigation marker lines found."""
    md = markdown.read(text)
    headings = [_Heading(**vars(h)) for h in md.headings]
    styles: list[str] = []
    for index, paragraph in md.paragraphs:
        for line in paragraph.split("\n"):
            # One space between words: the marker patterns' optional spaces then never compete
            # for a long run of them (which backtracked for seconds on a few hundred spaces).
            ln = " ".join(line.split())
            m = _SECTION.match(ln) or _SECTION_LEAD.match(ln)
            if m:
                headings[index].marks.add(_mark(m.group(1)))
                styles.append(re.sub(re.escape(m.group(1)), "{}", m.group(0).strip(), count=1))
    return _Doc(lines=md.lines, headings=headings, tables=md.tables, marker_styles=styles, env=md.env)


def _mark(word: str) -> str:
    return "diagnosis" if word.lower() in _DIAGNOSIS else "mitigation"


# --- one file --------------------------------------------------------------------------------


def _alert_name(rendered: str, title: str) -> str:
    """The alert name inside a decorated heading, or "" when the heading is not one decorated name."""
    text = rendered.strip()
    if text.startswith("["):  # a pasted `[Prometheus]: [FIRING:1] ...` title: matching reads it whole
        return ""
    text = _LABEL.sub("", text).strip().strip(_QUOTES).strip()
    while True:
        cut = _TAG.sub("", text)
        if cut == text or not cut:
            break
        text = cut.strip().strip(_QUOTES).strip()
    text = _LABEL.sub("", text).strip(_QUOTES).strip()
    if not _IDENTIFIER.fullmatch(text) or text == title:
        return ""
    return text


def _mark_sections(doc: _Doc) -> dict[int, int]:
    """Mark section headings and give each the heading it belongs to: the nearest higher non-section one."""
    heads = doc.headings
    for h in heads:
        h.section = _section_key(h.text) in _SECTION_WORDS
    owners = _owners(heads)
    # A title repeated under many different entries (those with known sections) is a section too.
    with_sections = {o for i, o in owners.items() if heads[i].section}
    repeated: Counter[str] = Counter()
    parents: dict[str, set[int]] = {}
    for i, o in owners.items():
        if not heads[i].section and o in with_sections:
            k = _section_key(heads[i].text)
            repeated[k] += 1
            parents.setdefault(k, set()).add(o)
    extra = {k for k, n in repeated.items() if n >= _REPEATS and len(parents[k]) >= _REPEATS}
    template = _template_titles(heads, owners)
    if extra or template:
        for h in heads:
            key, parent = _section_key(h.text), owners.get(h.index)
            if (key in extra and parent in with_sections) or (
                key in template and parent is not None and not h.marks
            ):
                h.section = True
        owners = _owners(heads)
    return {i: o for i, o in owners.items() if heads[i].section}


def _template_titles(heads: list[_Heading], owners: dict[int, int]) -> set[str]:
    """Sub-heading titles of a template no vocabulary knows ("What to do", "Who to call"): several of
    them repeat together under many parents, and none holds Diagnosis/Mitigation markers or looks like
    an alert name, as the same alerts listed under every product would."""
    under: dict[int, set[str]] = {}
    seen: Counter[str] = Counter()
    for i, o in owners.items():
        h = heads[i]
        if h.section or h.level <= heads[o].level:
            continue
        k = _section_key(h.text)
        if h.marks or re.search(r"[a-z][A-Z]|_|\d", h.text) or k in under.get(o, set()):
            continue
        under.setdefault(o, set()).add(k)
        seen[k] += 1
    common = {k for k, n in seen.items() if n >= _REPEATS}
    holders = [ks & common for ks in under.values() if len(ks & common) >= 2]
    if len(holders) < _REPEATS:
        return set()
    together: Counter[str] = Counter(k for ks in holders for k in ks)
    return {k for k, n in together.items() if n >= _REPEATS}


def _owners(heads: list[_Heading]) -> dict[int, int]:
    """Each heading's nearest higher non-section heading above it."""
    out: dict[int, int] = {}
    stack: list[_Heading] = []
    for h in heads:
        while stack and stack[-1].level >= h.level:
            stack.pop()
        if stack:
            out[h.index] = stack[-1].index
        if not h.section:
            stack.append(h)
    return out


def _body(doc: _Doc, start: int, stop: int) -> str:
    return "\n".join(doc.lines[start:stop])


def _is_stub(title: str, body: str, marks: set[str]) -> bool:
    text = " ".join(body.split())
    if _STUB.search(title) or (not text and not marks) or _STUB.search(body[:200]):
        return True
    return len(text) < _SHORT_BODY and bool(re.search(r"\bTODO\b", text, re.I))


@dataclass
class _Found:
    entries: list[RunbookEntry]
    level: int
    marker: str
    sections: tuple[str, ...]
    only_sections: bool


def _heading_entries(doc: _Doc, path: str, skip: set[int]) -> _Found:
    heads = doc.headings
    section_owner = _mark_sections(doc)
    marks: dict[int, set[str]] = {h.index: set(h.marks) for h in heads}
    subsections: dict[int, list[str]] = {}
    for i, o in section_owner.items():
        key = _section_key(heads[i].text)
        marks[o] |= marks[i]
        if key in _DIAGNOSIS or key in _MITIGATION:
            marks[o].add(_mark(key))
        subsections.setdefault(o, []).append(heads[i].text.strip().strip("_*:").strip())
    # An empty heading names nothing to match: it ends the entry above it, and is none itself.
    plain = [h for h in heads if not h.section and h.index not in skip and h.text.strip()]
    if not plain:
        return _Found([], 3, "_{}_", (), only_sections=bool(heads) and all(h.section for h in heads))
    marked = Counter(h.level for h in plain if marks[h.index])
    counts = marked or Counter(h.level for h in plain)
    level = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    top = min(h.level for h in heads)
    first = heads[0]
    title_index = first.index if first.level == top and sum(h.level == top for h in heads) == 1 else -1

    entries: list[RunbookEntry] = []
    stack: list[_Heading] = []  # plain headings above the entry level: the product is the nearest
    pending: list[_Heading] = []  # entry headings with no body yet: they share the next body

    def product() -> str | None:
        for h in reversed(stack):
            if h.index != title_index:
                return h.raw
        return None

    def extent(h: _Heading) -> tuple[int, set[str]]:
        found = set(marks[h.index])
        j = h.index + 1
        while j < len(heads) and (heads[j].section or heads[j].level > level) and j not in skip:
            found |= marks[j]
            j += 1
        stop = heads[j].line - 1 if j < len(heads) else len(doc.lines)
        return stop, found

    def flush(owner: _Heading, stop: int, found: set[str]) -> None:
        body = _body(doc, owner.end, stop)
        current = product()
        for h in pending:
            entries.append(
                RunbookEntry(
                    title=h.raw,
                    product=current,
                    line=h.line,
                    anchor=h.anchor,
                    name=_alert_name(h.text, h.raw),
                    path=path,
                    has_diagnosis="diagnosis" in found,
                    has_mitigation="mitigation" in found,
                    stub=_is_stub(h.raw, body, found),
                )
            )
        pending.clear()

    last: tuple[_Heading, int, set[str]] | None = None
    for h in plain:
        if h.level < level:
            if pending and last:
                flush(*last)
            while stack and stack[-1].level >= h.level:
                stack.pop()
            stack.append(h)
            continue
        if h.level > level:
            continue
        pending.append(h)
        stop, found = extent(h)
        last = (h, stop, found)
        if _body(doc, h.end, stop).strip() or found:
            flush(h, stop, found)
    if pending and last:
        flush(*last)

    styles = Counter(doc.marker_styles)
    orders = Counter(tuple(v) for k, v in subsections.items() if heads[k].level == level)
    if orders and (not styles or sum(orders.values()) >= len(doc.marker_styles) // 2):
        marker = "#" * (level + 1) + " {}"
        sections = orders.most_common(1)[0][0]
    else:
        marker = styles.most_common(1)[0][0] if styles else "_{}_"
        sections = ("Diagnosis", "Mitigation")
    return _Found(entries, level, marker, sections, only_sections=False)


def _column(header: list[str]) -> int | None:
    keys = [_section_key(c) for c in header]
    for name in _ALERT_COLUMNS:
        if name in keys:
            return keys.index(name)
    return None


def _column_kinds(key: str) -> set[str]:
    parts = {p.strip() for p in re.split(r"[/&,]| and ", key)}
    return parts


def _table_entries(doc: _Doc, path: str) -> tuple[list[RunbookEntry], set[int], tuple[str, ...]]:
    """Rows of alert tables; also the headings that hold them, with their ancestors (not entries)."""
    heads = doc.headings
    entries: list[RunbookEntry] = []
    holders: set[int] = set()
    headers: Counter[tuple[str, ...]] = Counter()
    top = min((h.level for h in heads), default=1)
    only_top = sum(h.level == top for h in heads) == 1
    for table in doc.tables:
        col = _column(table.header)
        if col is None or (table.heading is not None and heads[table.heading].marks):
            continue  # no alert column, or a table inside an entry that has its own Diagnosis/Mitigation
        names = [cells[col] for _, cells in table.rows if col < len(cells) and cells[col].strip()]
        if not names or sum(bool(re.match(r"\s*\[[^\]]*\]\(#", n)) for n in names) * 2 > len(names):
            continue  # an index linking to headings, not a table of entries
        if _section_key(table.header[col]) == "name" and sum(
            _is_alert_name(n, doc.env) for n in names
        ) * 2 <= len(names):
            continue  # a Name column of people or services, not of alerts
        keys = [_section_key(c) for c in table.header]
        diag = [j for j, k in enumerate(keys) if _column_kinds(k) & _DIAGNOSIS_COLUMNS and j != col]
        mit = [j for j, k in enumerate(keys) if _column_kinds(k) & _MITIGATION_COLUMNS and j != col]
        body_cols = [j for j, k in enumerate(keys) if j != col and k not in _NOT_BODY_COLUMNS]
        holder = heads[table.heading] if table.heading is not None else None
        product = None
        anchor = ""
        if holder is not None:
            anchor = holder.anchor
            if not (holder.index == 0 and holder.level == top and only_top):
                product = holder.raw
            holders.add(holder.index)
            level = holder.level
            for h in reversed(heads[: holder.index]):
                if h.level < level:
                    holders.add(h.index)
                    level = h.level
        headers[tuple(c for j, c in enumerate(table.header) if j != col)] += 1  # a new row's other cells
        for line, cells in table.rows:
            if col >= len(cells) or not cells[col].strip():
                continue

            def filled(cols: list[int], cells: list[str] = cells) -> bool:
                return any(j < len(cells) and cells[j].strip() for j in cols)

            body = " | ".join(cells[j] for j in body_cols if j < len(cells) and cells[j].strip())
            title = cells[col].strip()
            entries.append(
                RunbookEntry(
                    title=title,
                    product=product,
                    line=line,
                    anchor=anchor,
                    name=_alert_name(render_plain(title, doc.env), title),
                    path=path,
                    form=EntryForm.ROW,
                    has_diagnosis=filled(diag) if diag else bool(body),
                    has_mitigation=filled(mit) if mit else bool(body),
                    stub=not body or _is_stub(title, body, {"body"}),
                )
            )
    template = headers.most_common(1)[0][0] if headers else ()
    return entries, holders, template


def _is_alert_name(cell: str, env: dict[str, Any]) -> bool:
    text = render_plain(cell.strip(), env)
    return bool(_IDENTIFIER.fullmatch(text) or _alert_name(text, ""))


def _check_text(text: str, source: str) -> None:
    text = text.removeprefix(BOM)
    if not text.strip():
        raise InputError(f"runbook {source} is empty")
    head = text.lstrip()[:200].lower()
    json_list = re.match(r"\[\s*(?:[\[{\"\d\]]|true|false|null)", head)  # `[Back](README.md)` is markdown
    if "\x00" in text or head.startswith(("<!doctype", "<html", "{")) or json_list:
        raise InputError(f"runbook {source} does not look like markdown (is it HTML, JSON or binary?)")


def _parse_one(text: str, source: str, path: str = "") -> tuple[_Doc, _Found, Layout, tuple[str, ...]]:
    _check_text(text, source)
    doc = _read(text)
    rows, holders, template = _table_entries(doc, path)
    if not doc.headings and not rows:  # a file that is one table of alerts needs no heading
        html = " (HTML <h1>-<h6> headings are not read as entries: write them as # headings)"
        raise InputError(
            f"runbook {source} has no markdown headings, so it has no entries"
            + (html if markdown.has_html_headings(text) else "")
        )
    found = _heading_entries(doc, path, holders)
    if found.only_sections and not rows:
        raise InputError(
            f"runbook {source} has only section headings (Summary, Diagnosis, ...) and no entries above them"
        )
    layout = Layout.HEADINGS
    if rows:
        # The headings as entries, had the tables been mere content: whichever reading finds more wins.
        everything = _heading_entries(doc, path, set())
        if len(rows) >= len(everything.entries):
            layout = Layout.TABLE
            found.entries = sorted(rows + found.entries, key=lambda e: e.line)
        else:
            found = everything
    return doc, found, layout, template


def parse_runbook(text: str, source: str = "runbook", url: str | None = None) -> Runbook:
    """Entries of a one-file markdown runbook. Raises InputError for input that is not a usable runbook."""
    doc, found, layout, template = _parse_one(text, source)
    if not found.entries:
        raise InputError(f"runbook {source} has headings but no entries under them")
    products = list(dict.fromkeys(e.product for e in found.entries if e.product))
    level, marker, sections = found.level, found.marker, found.sections
    if layout is Layout.TABLE:
        holder_levels = Counter(
            h.level
            for t in doc.tables
            if t.heading is not None and _column(t.header) is not None
            for h in [doc.headings[t.heading]]
        )
        level = holder_levels.most_common(1)[0][0] if holder_levels else level
        marker, sections = "| {} |", template
    return Runbook(
        source=source,
        url=url,
        entries=tuple(found.entries),
        products=tuple(products),
        layout=layout,
        entry_level=level,
        section_marker=marker,
        sections=sections,
        anchors={"": frozenset(h.anchor for h in doc.headings)},
    )


# --- a folder --------------------------------------------------------------------------------


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for suffix in RUNBOOK_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_index(path: str) -> bool:
    """Index pages, READMEs, templates and repository meta files (`.github/`) are never entries."""
    stem = _stem(path)
    hidden = any(part.startswith(".") for part in path.split("/"))
    return hidden or stem.startswith("_") or stem.lower() in _INDEX_PAGES


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _file_entry(path: str, text: str, doc: _Doc) -> tuple[RunbookEntry, tuple[str, ...]] | None:
    """The file as one alert's entry, when it is one: named after an alert, or built of sections."""
    stem = _stem(path)
    heads = doc.headings
    h1 = next((h for h in heads if h.level == 1), None)
    subs = [h for h in heads if h is not h1]
    known = [h for h in subs if _section_key(h.text) in _SECTION_WORDS]
    named = bool(_ALERT_STEM.fullmatch(stem)) and (
        h1 is None
        or _squash(h1.text) == _squash(stem)
        or _squash(front_matter_title(text) or "") == _squash(stem)
    )
    if not known and not named:
        return None
    if h1 is not None and _section_key(h1.text) in _SECTION_WORDS and not named:
        return None  # a page of section titles only: nothing names the alert
    if not named and len(known) * 2 < len(subs):
        return None  # a page of its own topics that happens to have a Notes heading
    marks: set[str] = set()
    for h in heads:
        marks |= h.marks
        key = _section_key(h.text)
        if key in _DIAGNOSIS or key in _MITIGATION:
            marks.add(_mark(key))
    first = h1.end if h1 else 0
    body = _body(doc, first, len(doc.lines))
    body = "\n".join(ln for ln in body.split("\n") if not re.match(r"^\s*#{1,6}\s", ln))
    folder = path.rsplit("/", 1)[0] if "/" in path else None
    level = min((h.level for h in subs), default=2)
    order = tuple(h.text.strip() for h in subs if h.level == level)
    entry = RunbookEntry(
        title=h1.raw if h1 else (front_matter_title(text) or stem),
        product=folder,
        line=h1.line if h1 else 1,
        anchor="",
        name=stem,
        path=path,
        form=EntryForm.FILE,
        has_diagnosis="diagnosis" in marks,
        has_mitigation="mitigation" in marks,
        stub=_is_stub(h1.raw if h1 else stem, body, marks),
    )
    return entry, order


def parse_runbook_files(files: Mapping[str, str], source: str, url: str | None = None) -> Runbook:
    """Entries of a folder of markdown (relative path -> text): one file per alert, or several runbooks."""
    pages = {p: t for p, t in sorted(files.items()) if p.lower().endswith(RUNBOOK_SUFFIXES)}
    if not pages:
        raise InputError(f"runbook folder {source} has no markdown files ({', '.join(RUNBOOK_SUFFIXES)})")
    anchors: dict[str, frozenset[str]] = {}
    per_file: list[RunbookEntry] = []
    orders: Counter[tuple[str, ...]] = Counter()
    headed: list[RunbookEntry] = []
    levels: Counter[int] = Counter()
    markers: Counter[str] = Counter()
    for path, text in pages.items():
        where = f"{source}/{path}"
        if not text.removeprefix(BOM).strip():
            anchors[path] = frozenset()
            continue
        _check_text(text, where)
        doc = _read(text)
        anchors[path] = frozenset(h.anchor for h in doc.headings)
        if _is_index(path) or not doc.headings:
            continue
        got = _file_entry(path, text, doc)
        if got:
            per_file.append(got[0])
            orders[got[1]] += 1
            continue
        found = _heading_entries(doc, path, set())
        if any(e.has_diagnosis or e.has_mitigation for e in found.entries):
            title = doc.headings[0].raw if doc.headings[0].level == 1 else None
            fallback = title or (path.rsplit("/", 1)[0] if "/" in path else None)
            headed += [e if e.product else e.model_copy(update={"product": fallback}) for e in found.entries]
            levels[found.level] += len(found.entries)
            markers[found.marker] += len(found.entries)
    if not per_file and not headed:
        raise InputError(
            f"runbook folder {source} has markdown but no entries: no file is named after an alert or "
            "holds Diagnosis/Mitigation sections"
        )
    if len(per_file) >= len(headed):
        entries = per_file + headed
        layout = Layout.FILES
        sections = orders.most_common(1)[0][0] if orders else ("Diagnosis", "Mitigation")
        marker, level = "## {}", 1
    else:
        entries, layout = headed + per_file, Layout.HEADINGS
        level = levels.most_common(1)[0][0]
        marker = markers.most_common(1)[0][0]
        sections = ("Diagnosis", "Mitigation")
    products = list(dict.fromkeys(e.product for e in entries if e.product))
    return Runbook(
        source=source,
        url=url,
        entries=tuple(entries),
        products=tuple(products),
        layout=layout,
        entry_level=level,
        section_marker=marker,
        sections=sections,
        anchors=anchors,
    )


class RunbookSource(BaseModel):
    """Where the runbook lives: `owner/repo:path@ref` on GitHub, or a local file; `path` may be a folder."""

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

    def web_url(self, web_base: str = "https://github.com", folder: bool = False) -> str | None:
        """GitHub shows a folder under /tree/ and a file under /blob/."""
        if not self.repo:
            return None
        kind = "tree" if folder else "blob"
        return f"{web_base}/{self.repo}/{kind}/{self.ref or 'HEAD'}/{self.path.strip('/')}"
