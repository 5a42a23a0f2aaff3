"""Which runbook entry covers which alert, and why.

Matching reads each entry's `key`: the alert name when the layout gave one (a file's stem, a
decorated heading's name, a table cell), else the heading as written. A kebab-case file
(`disk-full.md`) is the alert its words spell (DiskFull), matched whole like a spelled-out heading.

- An entry for an alert name (a lone identifier, a heading that spells one out in capitalised
  words, or a title copied from a page) covers the alerts with that alertname,
  case-insensitively, and titles that spell it out (`Kube Pod Crash Looping on api-7d9f`).
  Whole identifiers match whole identifiers: an entry for `DiskFull` never covers
  `DiskFullSoon` nor `Disk Full Soon`. The rest of a copied title (its application labels) must occur
  in the alert too, except its environment slot, which varies as it does in kinds. A title that
  is only the name (Rootly, a bare alertname) carries nothing to contradict an entry: it is
  covered by the one entry that names it, and by none when several do.
- Any other entry covers an alert when every significant word of its heading occurs among the
  alert's words; a `<PLACEHOLDER>` (or `{placeholder}`) inside a word matches anything there.

Significant words leave out what varies between alerts of one kind (hosts, IPs, ids, numbers,
paths, severities, pod suffixes and ordinals), source prefixes such as `[Prometheus]:
[FIRING:1]`, stop words, and the last word of a title OpsGenie cut at `kinds.TITLE_CAP`. When
several entries cover an alert, a full match beats a bare name's, then the most specific wins
(most words), then the closest text.

Matching is indexed by each entry's alert name or rarest literal word, so 10,000 titles
against 1,500 entries stay well under a second.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from oncall.kinds import TITLE_CAP as TITLE_CAP  # one cut length for kinds and matching
from oncall.kinds import Shape, is_id, title_parts, workload
from oncall.runbook import EntryForm, Runbook, RunbookEntry

_STUB_NOTE = re.compile(r"\((?:[^()]*\b(?:stub|todo|tbd|needs love)\b[^()]*)\)", re.I)
_SPLIT = re.compile(r"[\s()\[\]\"',;:!?`|*]+")
_PLACEHOLDER = re.compile(r"<[^<>\s]+>|\{[^{}\s]+\}|\$[A-Z_]+")
_IP = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_VARIABLE = re.compile(
    r"^(?:ip-\d+-\d+-\d+-\d+\S*|i-[0-9a-f]{8,}|[0-9a-f]{8,}|\d+(?:\.\d+)*%?|[0-9a-f-]{36}|firing|resolved)$"
)
_RUN = re.compile(r"(?<![\w.\-/])[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)+(?![\w\-/])")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_HUMP = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_KEBAB = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
_SPELLED_KEY = re.compile(r"(?:[A-Z][A-Za-z0-9]*\s+){1,7}[A-Z][A-Za-z0-9]*")
_FUNCTION_WORDS = frozenset(
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
    ]
)
_STOP = _FUNCTION_WORDS | {"warning", "critical", "info", "error"}


@lru_cache(maxsize=65_536)
def significant_words(text: str) -> tuple[str, ...]:
    """The words that identify what an alert (or a heading) is about, lowercased, in order."""
    parts = title_parts(text)
    body = _STUB_NOTE.sub(" ", parts.body) if "(" in parts.body else parts.body
    tokens = [t.strip(".-") for t in _SPLIT.split(body)]
    if parts.cut and tokens:
        tokens = tokens[:-1]
    out: list[str] = []
    for t in tokens:
        if parts.name is not None and t == parts.name:
            out.append(t.lower())  # the alert name is kept whole, whatever its shape
        elif (w := _word(t.rsplit("=", 1)[-1] if "=" in t else t)) is not None:
            out.append(w)
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=65_536)
def _word(token: str) -> str | None:
    """A token as a significant word, or None. Titles share most tokens: each is judged once."""
    if not token or "/" in token or "@" in token or _IP.search(token) or is_id(token):
        return None
    lowered = token.lower()
    if lowered in _STOP or _VARIABLE.match(lowered):
        return None
    return workload(lowered) if not _PLACEHOLDER.search(token) else token


@lru_cache(maxsize=65_536)
def _spelled(text: str) -> frozenset[str]:
    """The identifiers a title spells out in words: `Kube Pod Crash Looping on x` gives
    `kubepodcrashlooping`. A run of words ends at punctuation, a lower-case function word, or a
    lower-case word after capitalised ones, so `Disk Full Soon` spells `diskfullsoon`, never `diskfull`."""
    parts = title_parts(text)
    if parts.shape is not Shape.TEXT:  # its alert name is there whole
        return frozenset()
    body = parts.body.rsplit(" ", 1)[0] if parts.cut else parts.body
    out: set[str] = set()
    for found in _RUN.finditer(body):
        run: list[str] = []
        for word in [*found.group(0).split(" "), ""]:
            ends = (
                not word
                or word in _FUNCTION_WORDS  # `on`, `for`: not `Of` in `Almost Out Of Files`
                or (run and run[-1][0].isupper() and word[0].islower())
            )
            if ends:
                if len(run) >= 2:
                    out.add("".join(run).lower())
                run = [] if not word or word in _FUNCTION_WORDS else [word]
            else:
                run.append(word)
    return frozenset(out)


def _pattern(word: str) -> re.Pattern[str] | None:
    if not _PLACEHOLDER.search(word):
        return None
    parts = _PLACEHOLDER.split(word)
    return re.compile(r"\S+".join(re.escape(p.lower()) for p in parts) + r"\Z")


@dataclass(frozen=True)
class _Compiled:
    entry: RunbookEntry
    name: str | None  # the alert name this entry is for, matched whole
    literal: frozenset[str]  # every other word that must occur in the alert
    patterns: tuple[re.Pattern[str], ...]
    size: int


@dataclass(frozen=True)
class Match:
    """The entry that covers a title, with the words that tied them, for people to check."""

    entry: RunbookEntry
    words: tuple[str, ...]


def _compile(entry: RunbookEntry) -> list[_Compiled]:
    key = entry.key
    words = significant_words(key)
    parts = title_parts(key)
    name = parts.name.lower() if parts.name is not None and parts.shape is not Shape.TEXT else None
    drop = {name, _word(parts.env) if parts.env else None}
    rest = [w for w in words if w not in drop]
    patterns = tuple(p for w in rest if (p := _pattern(w)) is not None)
    literal = frozenset(w for w in rest if _pattern(w) is None)
    if entry.form is EntryForm.FILE and _KEBAB.fullmatch(key):  # `disk-full.md` spells DiskFull
        return [_Compiled(entry, key.replace("-", "").lower(), frozenset(), (), 1)]
    if name is not None:
        return [_Compiled(entry, name, literal, patterns, 1 + len(rest))]
    if _SPELLED_KEY.fullmatch(key.strip()):  # `Kube Pod Crash Looping`: a name spelled out, matched whole
        return [_Compiled(entry, "".join(key.split()).lower(), frozenset(), (), len(words))]
    return [_Compiled(entry, None, literal, patterns, len(words))] if words else []


class Matcher:
    """Built once per runbook; `match` is then cheap per title."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        compiled: list[_Compiled] = []
        self._mentions: Counter[str] = Counter()  # how many entries name or mention each word
        for entry in runbook.entries:
            own = _compile(entry)
            compiled += own
            self._mentions.update(set(significant_words(entry.key)) | {c.name for c in own if c.name})
        frequency = Counter(w for c in compiled for w in c.literal)
        self._by_name: dict[str, list[_Compiled]] = defaultdict(list)
        self._by_anchor: dict[str, list[_Compiled]] = defaultdict(list)
        self._always: list[_Compiled] = []
        for c in compiled:
            if c.name is not None:
                self._by_name[c.name].append(c)
            elif c.literal:
                self._by_anchor[min(c.literal, key=lambda w: (frequency[w], w))].append(c)
            else:
                self._always.append(c)

    def match(self, title: str) -> Match | None:
        words = significant_words(title)
        have = set(words)
        bare = title_parts(title).shape is Shape.BARE
        found: list[tuple[bool, _Compiled]] = []
        for name in have | _spelled(title):
            for c in self._by_name.get(name, ()):
                if self._holds(c, have):
                    found.append((True, c))
                elif bare and self._mentions[name] == 1:
                    found.append((False, c))  # the name alone: nothing in the title contradicts it
        for c in [c for w in have for c in self._by_anchor.get(w, ())] + self._always:
            if self._holds(c, have):
                found.append((True, c))
        if not found:
            return None
        top = max((full, c.size) for full, c in found)
        tied_best = [fc for fc in found if (fc[0], fc[1].size) == top]
        full, best = tied_best[0]
        if len(tied_best) > 1:  # equally specific: the closest text wins (costly, so only here)
            full, best = max(
                tied_best,
                key=lambda fc: difflib.SequenceMatcher(None, title.lower(), fc[1].entry.key.lower()).ratio(),
            )
        tied = tuple(
            w
            for w in dict.fromkeys([*([best.name] if best.name else []), *words])
            if w == best.name or (full and (w in best.literal or any(p.match(w) for p in best.patterns)))
        )
        return Match(entry=best.entry, words=tied)

    @staticmethod
    def _holds(c: _Compiled, have: set[str]) -> bool:
        return c.literal <= have and all(any(p.match(w) for w in have) for p in c.patterns)


@lru_cache(maxsize=65_536)
def _topic_words(text: str) -> frozenset[str]:
    """Significant words with the words inside alert names (`KubePodNotReady`: kube, pod, ...):
    a near-miss name shares no whole word with its neighbours, but shares their topic."""
    words = set(significant_words(text))
    for token in _SPLIT.split(title_parts(text).body):
        if token.lower() in words and _HUMP.search(token):
            words.update(w.lower() for w in _CAMEL.findall(token) if len(w) >= 3 and w.lower() not in _STOP)
    return frozenset(words)


def likely_product(runbook: Runbook, title: str) -> str | None:
    """The product whose entries share the most words with `title`: where a new entry probably goes."""
    words = _topic_words(title)
    scores: Counter[str] = Counter()
    for entry in runbook.entries:
        if entry.product:
            scores[entry.product] += len(words & _topic_words(entry.key))
    for product in runbook.products:
        scores[product] += 2 * len(words & _topic_words(product))
    best = scores.most_common(1)
    return best[0][0] if best and best[0][1] > 0 else None
