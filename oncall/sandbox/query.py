"""The subset of OpsGenie's (and JSM's) Lucene-like alert query the fakes understand.

Terms joined by AND; a value may be quoted or an `(A OR B)` group. Comparisons on
`createdAt`/`updatedAt` take epoch milliseconds. An unknown field or operator is a 422, as
OpsGenie answers an invalid query, so a client that drifts from the syntax fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TERM = re.compile(r"^\s*(?P<field>[A-Za-z_.]+)\s*(?P<op>>=|<=|!=|:|=|>|<)\s*(?P<value>.+?)\s*$")
_TIME_FIELDS = {"createdAt", "updatedAt"}
_TEXT_FIELDS = {"status", "priority", "tag", "tags", "message", "owner", "alias", "acknowledged", "tinyId"}


class QueryError(ValueError):
    pass


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _values(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("(") and raw.endswith(")"):
        return [v.strip().strip('"') for v in _split_top(raw[1:-1], " OR ")]
    return [raw.strip('"')]


def _ms(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)


def _term(text: str) -> Predicate:
    m = _TERM.match(text)
    if not m:
        raise QueryError(f"Invalid query term: {text}")
    field, op, value = m.group("field"), m.group("op"), m.group("value")
    if field in _TIME_FIELDS:
        if op in (":", "="):
            op = "="
        try:
            bound = int(value.strip('"'))
        except ValueError:
            raise QueryError(f"{field} expects epoch milliseconds, got {value}") from None
        compare: dict[str, Callable[[int], bool]] = {
            ">=": lambda v: v >= bound,
            ">": lambda v: v > bound,
            "<=": lambda v: v <= bound,
            "<": lambda v: v < bound,
            "=": lambda v: v == bound,
            "!=": lambda v: v != bound,
        }
        check = compare[op]
        return lambda r: check(_ms(r[field]))
    if field not in _TEXT_FIELDS or op not in (":", "="):
        raise QueryError(f"Invalid query: unsupported field or operator in '{text}'")
    wanted = {v.lower() for v in _values(value)}
    if field in ("tag", "tags"):
        return lambda r: bool(wanted & {t.lower() for t in r.get("tags") or ()})
    if field == "message":
        return lambda r: any(w in str(r.get("message", "")).lower() for w in wanted)
    return lambda r: str(r.get(field, "")).lower() in wanted


@dataclass(frozen=True)
class Query:
    """A compiled query: the predicate, plus createdAt bounds so a fake can bisect first.

    `rest` is the predicate without the terms the bounds express, so a fake that bisected
    need not parse every record's timestamp again (0.37 s of the fake's one thread per
    50,000-alert fetch, which no real OpsGenie spends).
    """

    matches: Predicate
    rest: Predicate | None  # None: the bounds say it all
    created_from: int | None = None  # inclusive, epoch ms
    created_until: int | None = None  # exclusive, epoch ms


def _all(preds: list[Predicate]) -> Predicate:
    return lambda r: all(p(r) for p in preds)


def compile_query(query: str | None) -> Query:
    """Compile `query`; raises QueryError on syntax the fake cannot read."""
    if not query or not query.strip():
        return Query(_all([]), None)
    if _split_top(query, " OR ") != [query.strip()]:
        raise QueryError("Invalid query: top-level OR is not supported by the sandbox")
    preds: list[Predicate] = []
    rest: list[Predicate] = []
    lo: int | None = None
    hi: int | None = None
    for term in _split_top(query, " AND "):
        preds.append(pred := _term(term))
        m = _TERM.match(term)
        assert m is not None  # _term accepted it
        op = m.group("op")
        if m.group("field") != "createdAt" or op not in (">=", ">", "<", "<="):
            rest.append(pred)
            continue
        bound = int(m.group("value").strip('"')) + (op in (">", "<="))  # as [inclusive, exclusive)
        if op in (">=", ">"):
            lo = bound if lo is None else max(lo, bound)
        else:
            hi = bound if hi is None else min(hi, bound)
    return Query(_all(preds), _all(rest) if rest else None, lo, hi)
