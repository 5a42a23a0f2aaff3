"""Matching 10,000 distinct alert titles against a 1,000-entry runbook.

Ours: `coverage.Matcher` (entries indexed by their rarest word). Baseline: the same rule
checked against every entry for every title. Both parse the runbook first; the time covers
building the matcher and matching every title.
"""

from __future__ import annotations

import random
import time
from typing import Any

from oncall.coverage import Matcher, _pattern, significant_words
from oncall.runbook import parse_runbook

ENTRIES = 1_000
TITLES = 10_000
APPS = [
    "edxapp",
    "xqwatcher",
    "reddit",
    "keycloak",
    "vault",
    "forum",
    "ocw-studio",
    "mitxonline",
    "xpro",
    "learn-ai",
]


def _name(rng: random.Random) -> str:
    return "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + rng.choice("aeiou") + rng.choice("rstlnm")
        for _ in range(3)
    )


def runbook_text(rng: random.Random) -> tuple[str, list[str]]:
    names = [_name(rng) + kind for kind in ("Warning", "Critical", "Error") for _ in range(ENTRIES // 3 + 1)][
        :ENTRIES
    ]
    lines = ["# Products"]
    for i, name in enumerate(names):
        if i % 50 == 0:
            lines.append(f"## Product {i // 50}")
        style = i % 3
        if style == 0:
            heading = f"{name} {rng.choice(APPS)}"
        elif style == 1:
            heading = f"{name} operations-<ENVIRONMENT>"
        else:
            heading = f"[Prometheus]: [FIRING:1] {name} production ({rng.choice(APPS)} critical)"
        lines += [f"### {heading}", "_Diagnosis_", "look", "_Mitigation_", "fix"]
    return "\n".join(lines), names


def titles(rng: random.Random, names: list[str]) -> list[str]:
    out = []
    for i in range(TITLES):
        name = rng.choice(names) if i % 2 else _name(rng) + "Unknown"
        host = f"ip-10-{rng.randint(0, 255)}-{rng.randint(0, 255)}-{i % 250}"
        env = rng.choice(["operations-qa", "operations-production", "mitx-production", "production"])
        out.append(
            f"[Prometheus]: [FIRING:{1 + i % 3}] {name} {env} ({rng.choice(APPS)} {host} integrations/linux_host warning) #{i}"
        )
    return out


def _naive(text: str, all_titles: list[str]) -> int:
    book = parse_runbook(text)
    compiled = [
        (
            set(w for w in significant_words(e.title) if _pattern(w) is None),
            [p for w in significant_words(e.title) if (p := _pattern(w))],
        )
        for e in book.entries
    ]
    hits = 0
    for title in all_titles:
        have = set(significant_words(title))
        hits += any(
            lit <= have and all(any(p.match(w) for w in have) for p in pats) for lit, pats in compiled
        )
    return hits


def _ours(text: str, all_titles: list[str]) -> int:
    matcher = Matcher(parse_runbook(text))
    return sum(matcher.match(t) is not None for t in all_titles)


def run() -> list[dict[str, Any]]:
    rng = random.Random(3)
    text, names = runbook_text(rng)
    all_titles = titles(rng, names)
    assert len(set(all_titles)) == TITLES
    rows = []
    for name, fn in (("every entry for every title (baseline)", _naive), ("oncall Matcher (indexed)", _ours)):
        significant_words.cache_clear()
        t0 = time.perf_counter()
        hits = fn(text, all_titles)
        rows.append({"contender": name, "wall_s": time.perf_counter() - t0, "matched": hits})
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"## Runbook matching: {TITLES:,} distinct titles, {ENTRIES:,} entries",
        "",
        "| contender | wall | titles covered |",
        "|---|---|---|",
    ]
    lines += [f"| {r['contender']} | {r['wall_s']:.3f} s | {r['matched']:,} |" for r in rows]
    base, ours = rows
    lines += [
        "",
        f"- same answers: {'yes' if base['matched'] == ours['matched'] else 'NO'}; "
        f"{base['wall_s'] / ours['wall_s']:.0f}x faster; target under 1 s: {'met' if ours['wall_s'] < 1 else 'MISSED'}",
    ]
    return "\n".join(lines)
