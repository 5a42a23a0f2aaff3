"""`make docs`: the tables in docs/ that repeat code, generated from the code they repeat.

The settings table comes from `Settings.model_fields` (every field, whichever source package it
was inherited from), the sources table from the registry (`oncall.sources.REGISTRY`: each
source's credential, settings and what it lacks), and each flow's parameter table from its
signature and the `Args:` of its docstring, as the Prefect UI's run form shows them. A page keeps its hand-written text: only the
lines between a pair of markers are rewritten,

    <!-- BEGIN GENERATED settings: make docs -->
    ...
    <!-- END GENERATED settings -->

Every table must be placed exactly once, and every marker must name a table, so a new flow or
a typo in a page fails `make docs` instead of going unseen. `--check` writes nothing and exits 1
when a page is stale (tests/deploy/test_docs.py does the same).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

if TYPE_CHECKING:
    from prefect import Flow
    from pydantic.fields import FieldInfo

    from oncall.sources import SourceSpec

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BEGIN = re.compile(r"^<!-- BEGIN GENERATED (?P<name>[\w:.-]+): make docs -->$", re.MULTILINE)


class DocsError(Exception):
    """A page's markers or the code's descriptions do not allow a table to be generated."""


def begin(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name}: make docs -->"


def end(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


# --- rendering ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """One markdown table cell: no line break, and a `|` that stays text."""
    return " ".join(text.split()).replace("|", "\\|")


def _row(*cells: str) -> str:
    """A table row; a `|` inside a cell, code spans included, is escaped as GFM asks."""
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def type_name(tp: Any) -> str:
    """A type as it is written in Python, aliases resolved (`list[Literal['a', 'b']]`)."""
    if tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in typing.get_args(tp))}]"
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp))


def _literal_choices(tp: Any) -> tuple[Any, ...]:
    """The values a `Literal[...]` (or `Literal[...] | None`) field allows; () for any other type."""
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return tuple(v for a in typing.get_args(tp) for v in _literal_choices(a))
    return ()


def _is_secret(tp: Any) -> bool:
    return tp is SecretStr or any(_is_secret(a) for a in typing.get_args(tp))


def _toml(value: Any) -> str:
    """A default as the config file spells it (the keys are the field names)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _code("true" if value else "false")
    if isinstance(value, int | float):
        return _code(repr(value))
    if isinstance(value, str):
        return _code(value)
    if isinstance(value, date):  # a TOML local date, unquoted
        return _code(value.isoformat())
    return _code(json.dumps(value))


def _bounds(info: FieldInfo) -> str:
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    found = [
        f"{sign} {getattr(m, attr)}"
        for m in info.metadata
        for attr, sign in signs.items()
        if hasattr(m, attr)
    ]
    return f" ({', '.join(found)})" if found else ""


def settings_table(
    model: type[BaseModel], *, env_prefix: str, secret_block: Callable[[str], str | None]
) -> str:
    """One row per field of `model`: its environment variable, default, Secret block (for a
    secret), and description, with the values a Literal allows and the bounds it checks."""
    rows = [
        "| environment variable | default | secret: its Secret block | meaning |",
        "|---|---|---|---|",
    ]
    for name, info in model.model_fields.items():
        if not info.description:
            raise DocsError(f"{model.__name__}.{name} has no description; give its Field a description")
        if info.default_factory is not None:
            default = _toml(info.default_factory())  # type: ignore[call-arg]
        else:
            default = "" if info.default is PydanticUndefined else _toml(info.default)
        meaning = info.description.rstrip(".") + _bounds(info)
        choices = _literal_choices(info.annotation)
        if choices:
            meaning += f"; one of {', '.join(_code(str(c)) for c in choices)}"
        block = ""
        if _is_secret(info.annotation):
            named = secret_block(name)
            block = _code(named) if named else "yes"
        rows.append(_row(_code(env_prefix + name.upper()), default, block, meaning))
    return "\n".join(rows)


def flow_table(flow: Flow[..., Any]) -> str:
    """One row per parameter of `flow`: name, type, default and the description the Prefect UI
    shows (its docstring's `Args:`, parsed by Prefect itself)."""
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(flow.fn).properties
    hints = typing.get_type_hints(flow.fn)
    rows = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for name, prop in schema.items():
        description = prop.get("description")
        if not description:
            raise DocsError(f"flow {flow.name}: parameter {name} has no description in its docstring's Args:")
        default = _code(json.dumps(prop["default"])) if "default" in prop else ""
        rows.append(_row(_code(name), _code(type_name(hints.get(name, Any))), default, description))
    return "\n".join(rows)


def sources_table(registry: Mapping[str, SourceSpec], *, env_prefix: str) -> str:
    """One row per registered source: its `ONCALL_SOURCE` value, name, credential and Secret
    block, its other settings, and what it does not record (its `lacks`), in registry order."""
    rows = [
        "| `ONCALL_SOURCE` | source | credential (Secret block) | its other settings | what it does not record |",
        "|---|---|---|---|---|",
    ]
    for name, spec in registry.items():
        block = spec.secret_blocks.get(spec.credential)
        credential = _code(env_prefix + spec.credential.upper()) + (f" ({_code(block)})" if block else "")
        others = ", ".join(
            _code(env_prefix + field.upper())
            for field in spec.config.model_fields
            if field != spec.credential
        )
        lacks = (
            "; ".join(f"{what}: {why.rstrip('.')}" for what, why in spec.lacks.items())
            or "nothing the flows use"
        )
        rows.append(_row(_code(name), spec.title, credential, others, lacks))
    return "\n".join(rows)


# --- what is generated, and where it goes ----------------------------------------------------


def repository_flows(package: str = "flows") -> list[Flow[..., Any]]:
    """Every flow defined in the `flows` package, in module order."""
    from prefect import Flow

    root = importlib.import_module(package)
    found: list[Flow[..., Any]] = []
    for mod in sorted(pkgutil.iter_modules(root.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package}.{mod.name}")
        found += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, Flow) and obj.fn.__module__ == module.__name__
        ]
    return found


def tables() -> dict[str, str]:
    """Marker name -> table: `settings`, and `flow:<name>` per flow."""
    from oncall.settings import Settings, secret_block

    def block(name: str) -> str | None:
        try:
            return secret_block({}, name)
        except KeyError:
            return None

    from oncall.sources import REGISTRY

    prefix = str(Settings.model_config.get("env_prefix", ""))
    found = {
        "settings": settings_table(Settings, env_prefix=prefix, secret_block=block),
        "sources": sources_table(REGISTRY, env_prefix=prefix),
    }
    for flow in repository_flows():
        found[f"flow:{flow.name}"] = flow_table(flow)
    return found


def fill(text: str, blocks: Mapping[str, str], where: str) -> tuple[str, list[str]]:
    """`text` with the lines between each pair of markers replaced by its table, and the names
    of the tables it placed. Unknown names and unclosed markers are DocsErrors naming `where`."""
    out: list[str] = []
    placed: list[str] = []
    pos = 0
    for match in _BEGIN.finditer(text):
        if match.start() < pos:
            raise DocsError(f"{where}: marker {match.group('name')!r} opens inside another generated table")
        name = match.group("name")
        if name not in blocks:
            raise DocsError(
                f"{where}: no generated table is called {name!r}; the tables are {', '.join(blocks)}"
            )
        close = text.find("\n" + end(name), match.end())
        if close < 0:
            raise DocsError(f"{where}: {begin(name)} has no {end(name)} after it")
        out += [text[pos : match.end()], "\n", blocks[name]]
        placed.append(name)
        pos = close
    out.append(text[pos:])
    return "".join(out), placed


def render(pages: Iterable[Path], blocks: Mapping[str, str]) -> dict[Path, str]:
    """Each page's text with its tables filled in. Every table is placed exactly once."""
    result: dict[Path, str] = {}
    where: dict[str, list[str]] = {name: [] for name in blocks}
    for page in sorted(pages):
        text, placed = fill(page.read_text(encoding="utf-8"), blocks, page.name)
        result[page] = text
        for name in placed:
            where[name].append(page.name)
    missing = [name for name, at in where.items() if not at]
    twice = {name: at for name, at in where.items() if len(at) > 1}
    if missing:
        raise DocsError(
            f"no page has a place for {', '.join(missing)}: add {begin(missing[0])} and {end(missing[0])} to one"
        )
    if twice:
        raise DocsError(f"tables placed more than once: {twice}")
    return result


def stale(docs: Path = DOCS) -> list[Path]:
    """The pages whose generated tables differ from the code's."""
    return [
        page for page, text in render(docs.glob("*.md"), tables()).items() if page.read_text("utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    try:
        pages = render(DOCS.glob("*.md"), tables())
    except DocsError as exc:
        print(f"make docs: {exc}", file=sys.stderr)
        return 2
    changed = [page for page, text in pages.items() if page.read_text("utf-8") != text]
    for page in changed:
        if check:
            print(f"stale: {page.relative_to(DOCS.parent)} (run make docs)", file=sys.stderr)
        else:
            page.write_text(pages[page], encoding="utf-8")
            print(f"wrote {page.relative_to(DOCS.parent)}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
