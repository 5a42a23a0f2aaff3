"""Deep paging without a deep offset: split a time window until each part fits under the cap.

OpsGenie and JSM refuse offset + limit past 20,000, and Rootly refuses deep page numbers.
Counting a window is one cheap request on each, so a window that holds too many is cut into
equal sub-windows by creation time, counted concurrently, and cut again where still too full.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from oncall.errors import MalformedError
from oncall.models import AlertQuery, TimeWindow

T = TypeVar("T")
EPOCH = datetime(2010, 1, 1, tzinfo=UTC)  # before any alert a source still keeps


def split_window(
    count: Callable[[TimeWindow], int],
    window: TimeWindow,
    total: int,
    *,
    cap: int,
    concurrency: int,
    system: str,
) -> list[tuple[TimeWindow, int]]:
    """Sub-windows of `window` (which holds `total`), each holding at most `cap`, with their counts."""
    parts = math.ceil(total / (cap * 0.9))
    step = (window.end - window.start) / parts
    if step < timedelta(milliseconds=1):
        raise MalformedError(
            system, f"more than {cap} alerts created within one millisecond; cannot page them"
        )
    bounds = [window.start + step * i for i in range(parts)] + [window.end]
    subs = [TimeWindow(start=a, end=b) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(concurrency) as pool:
        counts = list(pool.map(count, subs))
    out: list[tuple[TimeWindow, int]] = []
    for sub, n in zip(subs, counts, strict=True):
        if n > cap:
            out += split_window(count, sub, n, cap=cap, concurrency=concurrency, system=system)
        else:
            out.append((sub, n))
    return out


def whole_window(query: AlertQuery) -> TimeWindow:
    """The creation-time span a query covers, bounded on both sides so it can be split."""
    return query.created or TimeWindow(start=EPOCH, end=query.created_before or datetime.now(UTC))


def remaining_pages(
    query: AlertQuery,
    total: int,
    count: Callable[[TimeWindow], int],
    *,
    cap: int,
    size: int,
    concurrency: int,
    system: str,
) -> list[tuple[TimeWindow | None, int]]:
    """(sub-window, 0-based page) for every page still to read once the query's first page said `total`.

    Within the cap that is the rest of the whole query (window None; its first page is already
    read). Past it, the first page is of no use: every page of every sub-window is read.
    """
    if total <= cap:
        return [(None, i) for i in range(1, math.ceil(total / size))]
    chunks = split_window(count, whole_window(query), total, cap=cap, concurrency=concurrency, system=system)
    return [(w, i) for w, n in chunks for i in range(math.ceil(n / size))]


def every_page(
    query: AlertQuery,
    page: Callable[[TimeWindow | None, int, int], T],
    total: Callable[[T], int],
    *,
    cap: int,
    size: int,
    concurrency: int,
    system: str,
) -> list[T]:
    """Every page (as answered) of the listing `query` asks for, its first page read first.

    `page(window, index, size)` reads the 0-based `index`th page of `size` items of the listing
    restricted to a creation-time sub-window (None: as asked); `total(answer)` is the count an
    answer states. Past `cap` the listing is split by `remaining_pages`, its pages read concurrently.
    """
    first = page(None, 0, size)
    found = total(first)
    pages = remaining_pages(
        query,
        found,
        lambda w: total(page(w, 0, 1)),
        cap=cap,
        size=size,
        concurrency=concurrency,
        system=system,
    )
    answers = [first] if found <= cap else []
    with ThreadPoolExecutor(concurrency, thread_name_prefix=system.lower()) as pool:
        answers += pool.map(lambda p: page(p[0], p[1], size), pages)
    return answers


def _raw_id(record: Any) -> str:
    return str(record.get("id"))


def fetch_by_offset(
    count: Callable[[TimeWindow | None], int],
    page: Callable[[TimeWindow | None, int], list[T]],
    whole: Callable[[], TimeWindow],
    *,
    key: Callable[[T], str] = _raw_id,
    cap: int,
    size: int,
    concurrency: int,
    system: str,
) -> list[T]:
    """Every item of a listing paged by offset under `cap`, split by creation time when it holds more.

    `count(window)` and `page(window, offset)` read the listing restricted to a creation-time
    sub-window (None: the listing as asked). Pages of every sub-window are read concurrently.
    Counts go stale while items keep arriving, so a full last page is followed by more pages.
    Items are returned once each (by `key`: a raw record's `id`), in no particular order.
    """
    total = count(None)
    chunks: Sequence[tuple[TimeWindow | None, int]] = (
        [(None, total)]
        if total + size <= cap
        else split_window(count, whole(), total, cap=cap - size, concurrency=concurrency, system=system)
    )
    pages = [(w, off, n) for w, n in chunks for off in range(0, max(n, 1), size)]
    with ThreadPoolExecutor(concurrency, thread_name_prefix=system.lower()) as pool:
        results = list(pool.map(lambda p: page(p[0], p[1]), pages))
    by_key: dict[str, T] = {}
    for (window, offset, n), items in zip(pages, results, strict=True):
        by_key.update((key(i), i) for i in items)
        is_last = offset + size >= n
        while is_last and len(items) == size and offset + 2 * size <= cap:
            offset += size
            items = page(window, offset)
            by_key.update((key(i), i) for i in items)
    return list(by_key.values())
