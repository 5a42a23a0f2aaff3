"""Turning one vendor record into a model, with an error that names the record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from oncall.errors import MalformedError, UncertainError

T = TypeVar("T")
log = logging.getLogger("oncall.records")
# What reading a record or an answer of the wrong shape raises (pydantic's ValidationError
# is a ValueError).
SHAPE_ERRORS: tuple[type[Exception], ...] = (LookupError, TypeError, ValueError, AttributeError)


def parse_record(
    system: str, kind: str, raw: Any, build: Callable[[dict[str, Any]], T], where: str = ""
) -> T:
    """Run `build` on one raw record; any shape problem becomes a MalformedError naming it."""

    def problem(text: str) -> MalformedError:
        ident = raw.get("id", "?") if isinstance(raw, dict) else "?"
        return MalformedError(system, f"{kind} {ident}{' ' + where if where else ''}: {text}")

    if not isinstance(raw, dict):
        raise problem(f"expected an object, got {type(raw).__name__}")
    try:
        return build(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise problem(f"field {field}: {first['msg']}") from None
    except SHAPE_ERRORS as exc:
        raise problem(f"{type(exc).__name__}: {exc}") from None


def iso(value: Any) -> datetime | None:
    """A vendor ISO-8601 timestamp (with a `Z` or an offset), or None when absent."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} is not ISO-8601 with a zone")
    return parsed


def require_list(system: str, body: Any, key: str, what: str) -> list[Any]:
    data = body.get(key) if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise MalformedError(system, f"{what}: response has no '{key}' list")
    return data


def keep_good(system: str, kind: str, results: Sequence[T | MalformedError]) -> list[T]:
    """Records that parsed; each that did not is skipped with its reason logged.

    One bad record must not sink a run. When most of a list is bad, though, the vendor's
    shape has changed and an empty report would lie: then the first problem is raised.
    """
    bad = [r for r in results if isinstance(r, MalformedError)]
    if bad and len(bad) * 2 > len(results):
        raise bad[0]
    for problem in bad:
        log.warning("%s; the record is skipped", problem)
    return [r for r in results if not isinstance(r, MalformedError)]


def parse_records(
    system: str, kind: str, raws: Iterable[Any], build: Callable[[dict[str, Any]], T], where: str = ""
) -> list[T]:
    """`parse_record` over a list, skipping the malformed ones (see `keep_good`)."""
    return keep_good(system, kind, [attempt(parse_record, system, kind, raw, build, where) for raw in raws])


def attempt(fn: Callable[..., T], *args: Any) -> T | MalformedError:
    try:
        return fn(*args)
    except MalformedError as exc:
        return exc


@contextmanager
def answer_shape(
    system: str, what: str, *, write: bool = False, also: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Reading a vendor's answer field by field: a wrong shape (a proxy's HTML page, a list for
    an object, a missing field) becomes a MalformedError that names what was being read. After
    a write it is an UncertainError instead: the write may well have happened."""
    caught = (*SHAPE_ERRORS, *also)
    try:
        yield
    except caught as exc:
        problem = f"{what}: the answer is not in the shape {system} sends ({type(exc).__name__})"
        if write:
            raise UncertainError(
                system, f"{problem}; the write may have happened, a rerun looks for it first"
            ) from None
        raise MalformedError(system, problem) from None
