"""The pre-issue-16 runbook reader, kept only as the benchmark's baseline.

A verbatim copy of `parse_runbook` (oncall/runbook.py at 2495141, the same code as at 8a83b2b)
and of `oncall/coverage.py` and `oncall/kinds.py` as they were at 8a83b2b, before issue 16
changed them. `make bench` runs it side by side with today's reader, so the figures show what
the change bought. Its models are local dataclasses so that later fields on the shared models
cannot change (or break) what the baseline does. Nothing outside bench/ may import it.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache


class InputError(ValueError):
    pass


@dataclass(frozen=True)
class RunbookEntry:
    title: str
    product: str | None
    line: int
    anchor: str
    has_diagnosis: bool
    has_mitigation: bool
    stub: bool


@dataclass(frozen=True)
class Runbook:
    source: str
    entries: tuple[RunbookEntry, ...]
    products: tuple[str, ...]
    url: str | None = None
    entry_level: int = 3
    section_marker: str = "_{}_"


# -- oncall/runbook.py: the parse code ---------------------------------------------------------

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SECTION = re.compile(
    r"^\s*(?:_{1,2}|\*{1,2})?\s*(diagnosis|mitigation)\s*:?\s*(?:_{1,2}|\*{1,2})?\s*:?\s*$", re.I
)
_SECTION_HEADING = re.compile(r"^(diagnosis|mitigation)\s*:?$", re.I)
_STUB = re.compile(r"\b(stub|todo|tbd|needs love|fixme)\b", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def github_anchor(heading: str, seen: Counter[str]) -> str:
    """GitHub's heading id: rendered text lowercased, punctuation dropped, spaces to hyphens, -N for repeats."""
    text = _LINK.sub(r"\1", heading)
    text = _HTML_TAG.sub("", text)  # GitHub renders `<ENV>` as a tag and strips it
    text = text.replace("`", "")
    slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
    count = seen[slug]
    seen[slug] += 1
    return slug if count == 0 else f"{slug}-{count}"


@dataclass
class _Heading:
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


# -- oncall/coverage.py at 8a83b2b --------------------------------------------------------------

_PREFIX = re.compile(r"^\s*(?:\[[^\]]{0,40}\]:?\s*)+")
_STUB_NOTE = re.compile(r"\((?:[^()]*\b(?:stub|todo|tbd|needs love)\b[^()]*)\)", re.I)
_SPLIT = re.compile(r"[\s()\[\]\"',;:!?`|*]+")
_PLACEHOLDER = re.compile(r"<[^<>\s]+>|\{[^{}\s]+\}|\$[A-Z_]+")
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_VARIABLE = re.compile(
    r"^(?:ip-\d+-\d+-\d+-\d+\S*|i-[0-9a-f]{8,}|[0-9a-f]{8,}|\d+(?:\.\d+)*%?|[0-9a-f-]{36}|firing|resolved)$"
)
_MIXED_ID = re.compile(r"^(?=[\w-]*\d)(?=[\w-]*[A-Z])(?=[\w-]*[a-z])[\w-]{8,}$")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "has",
        "have",
        "had",
        "is",
        "are",
        "was",
        "be",
        "been",
        "for",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "with",
        "and",
        "or",
        "from",
        "it",
        "this",
        "that",
        "warning",
        "critical",
        "info",
        "error",
    ]
)
TITLE_CAP = 128


@lru_cache(maxsize=65_536)
def significant_words(text: str) -> tuple[str, ...]:
    """The words that identify what an alert (or a heading) is about, lowercased, in order."""
    body = _STUB_NOTE.sub(" ", _PREFIX.sub("", text))
    tokens = [t.strip(".-") for t in _SPLIT.split(body)]
    if len(text) >= TITLE_CAP and tokens:
        tokens = tokens[:-1]
    return tuple(dict.fromkeys(w for t in tokens if (w := _word(t)) is not None))


@lru_cache(maxsize=65_536)
def _word(token: str) -> str | None:
    """A token as a significant word, or None. Titles share most tokens: each is judged once."""
    if not token or "/" in token or "@" in token or _IP.search(token) or _MIXED_ID.match(token):
        return None
    if "=" in token:
        token = token.split("=", 1)[0]
    lowered = token.lower()
    if lowered in _STOP or _VARIABLE.match(lowered):
        return None
    return lowered if not _PLACEHOLDER.search(token) else token


def _pattern(word: str) -> re.Pattern[str] | None:
    if not _PLACEHOLDER.search(word):
        return None
    parts = _PLACEHOLDER.split(word)
    return re.compile(r"\S+".join(re.escape(p.lower()) for p in parts) + r"\Z")


@dataclass(frozen=True)
class _Compiled:
    entry: RunbookEntry
    literal: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    size: int


@dataclass(frozen=True)
class Match:
    """The entry that covers a title, with the words that tied them, for people to check."""

    entry: RunbookEntry
    words: tuple[str, ...]


class Matcher:
    """Built once per runbook; `match` is then cheap per title."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        compiled: list[_Compiled] = []
        for entry in runbook.entries:
            words = significant_words(entry.title)
            if not words:
                continue
            patterns = tuple(p for w in words if (p := _pattern(w)) is not None)
            literal = frozenset(w for w in words if _pattern(w) is None)
            compiled.append(_Compiled(entry, literal, patterns, len(words)))
        frequency = Counter(w for c in compiled for w in c.literal)
        self._by_anchor: dict[str, list[_Compiled]] = defaultdict(list)
        self._always: list[_Compiled] = []
        for c in compiled:
            if c.literal:
                self._by_anchor[min(c.literal, key=lambda w: (frequency[w], w))].append(c)
            else:
                self._always.append(c)

    def match(self, title: str) -> Match | None:
        words = significant_words(title)
        have = set(words)
        found: list[_Compiled] = []
        candidates = [c for w in have for c in self._by_anchor.get(w, ())] + self._always
        for c in candidates:
            if c.literal <= have and all(any(p.match(w) for w in have) for p in c.patterns):
                found.append(c)
        if not found:
            return None
        best = max(
            found,
            key=lambda c: (
                c.size,
                difflib.SequenceMatcher(None, title.lower(), c.entry.title.lower()).ratio(),
            ),
        )
        tied = tuple(w for w in words if w in best.literal or any(p.match(w) for p in best.patterns))
        return Match(entry=best.entry, words=tied)


# -- oncall/kinds.py at 8a83b2b -----------------------------------------------------------------

_K_PREFIX = re.compile(r"^\s*(?:\[[^\]]{0,40}\]:?\s*)+")
_FIRING = re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\]", re.IGNORECASE)
_ALERTMANAGER = re.compile(r"^(?P<name>\S+)(?:\s+(?P<env>[^\s(]+))?\s*(?:\((?P<labels>.*?)\)?)?\s*$")
_K_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_HOST = re.compile(r"^(?:ip-\d+-\d+-\d+-\d+\S*|i-[0-9a-f]{8,}|[\w.-]*\d+\.\d+\.\d+\.\d+\S*)$")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE)
_K_MIXED_ID = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Z])(?=[\w-]*[a-z])[\w-]{8,}\b")
_POD = re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-(?:[a-f0-9]{8,10}-)?(?=[a-z]*\d)[a-z0-9]{5}\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_SEVERITIES = {"warning", "critical", "info", "error", "page", "ticket", "none"}
_TITLE_CAP = 130


@lru_cache(maxsize=65_536)
def _is_variable_label(value: str) -> bool:
    return (
        bool(_HOST.match(value) or _K_IP.search(value))
        or value.startswith("/")
        or "/" in value
        or value.lower() in _SEVERITIES
        or value.isdigit()
        or value in {"true", "false"}
    )


def alert_kind(title: str) -> str:
    """The stable kind of an alert title (see the module docstring)."""
    text = " ".join(title.split())
    if _FIRING.search(text[:60]):
        body = _K_PREFIX.sub("", text)
        m = _ALERTMANAGER.match(body)
        if m:
            labels = (m.group("labels") or "").split()
            if len(text) >= _TITLE_CAP and labels:
                labels = labels[:-1]  # OpsGenie cut the title mid-word
            kept = [v for v in labels if not _is_variable_label(v)]
            return " ".join([m.group("name"), *kept])
    body = _K_PREFIX.sub("", text) if text.startswith("[") and _FIRING.search(text[:60]) else text
    body = _UUID.sub("<id>", body)
    body = _POD.sub(r"\1-<pod>", body)
    body = _K_IP.sub("<ip>", body)
    body = _HEX_ID.sub("<id>", body)
    body = _K_MIXED_ID.sub("<id>", body)
    body = _NUMBER.sub("<n>", body)
    return body.strip() or title.strip() or "(empty title)"
