"""Which runbook entry covers which alert, and why.

An entry covers an alert when every significant word of its heading occurs among the
alert's words; a `<PLACEHOLDER>` (or `{placeholder}`) inside a word matches anything there.
Significant words leave out what varies between alerts of one kind (hosts, IPs, ids,
numbers, paths, severities), source prefixes such as `[Prometheus]: [FIRING:1]`, stop words,
and the last word of a title OpsGenie cut at 130 characters. When several entries cover an
alert, the most specific wins (most words), then the closest text.

Matching is indexed by each entry's rarest literal word, so 10,000 titles against 1,000
entries stay well under a second.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from oncall.runbook import Runbook, RunbookEntry

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


def likely_product(runbook: Runbook, title: str) -> str | None:
    """The product whose entries share the most words with `title`: where a new entry probably goes."""
    words = set(significant_words(title))
    scores: Counter[str] = Counter()
    for entry in runbook.entries:
        if entry.product:
            scores[entry.product] += len(words & set(significant_words(entry.title)))
    for product in runbook.products:
        scores[product] += 2 * len(words & set(significant_words(product)))
    best = scores.most_common(1)
    return best[0][0] if best and best[0][1] > 0 else None
