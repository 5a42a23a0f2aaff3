"""The generated tables in docs/ (`make docs`): current with the code, and generated right."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pytest
from prefect import flow
from pydantic import BaseModel, Field, SecretStr

from deployments import docs
from deployments.docs import DocsError, begin, end, fill, flow_table, render, settings_table, sources_table

# --- the pages in the repository -----------------------------------------------------------------


def test_generated_tables_are_current() -> None:
    """A field or parameter added, removed or redescribed without `make docs` fails here."""
    assert docs.stale() == [], "run `make docs` and commit docs/"


def test_every_setting_and_flow_parameter_has_a_row() -> None:
    from oncall.settings import Settings

    tables = docs.tables()
    for name in Settings.model_fields:
        assert f"| `ONCALL_{name.upper()}` |" in tables["settings"]
    flows = docs.repository_flows()
    assert {f"flow:{f.name}" for f in flows} == set(tables) - {"settings", "sources"}
    assert {f.name for f in flows} >= {"shift-handoff", "runbook-gaps", "coe-prep", "incident-watch"}
    for f in flows:
        for param in f.parameters.properties:
            assert f"| `{param}` |" in tables[f"flow:{f.name}"]


def test_every_registered_source_has_a_row() -> None:
    from oncall.sources import REGISTRY

    rows = docs.tables()["sources"].splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{name}`" for name in REGISTRY]


def test_secrets_name_their_block_and_nothing_else_does() -> None:
    from oncall.settings import SECRET_BLOCKS

    rows = {line.split(" | ")[0].strip("| `"): line for line in docs.tables()["settings"].splitlines()[2:]}
    for name, block in SECRET_BLOCKS.items():
        assert f"| `{block}` |" in rows[f"ONCALL_{name.upper()}"]
    assert sum("| `oncall-" in row for row in rows.values()) == len(SECRET_BLOCKS)


# --- the generator, on small cases -------------------------------------------------------------


class _Small(BaseModel):
    token: SecretStr | None = Field(None, description="An API token.")
    mode: Literal["fast", "slow"] = Field("fast", description="How it runs")
    tries: int = Field(3, ge=1, le=9, description="Tries | attempts")
    refs: dict[str, str] = Field(default_factory=dict, description="References")
    on: bool = Field(True, description="Enabled")


def test_settings_table_renders_each_field() -> None:
    table = settings_table(_Small, env_prefix="X_", secret_block={"token": "x-token"}.get)
    assert table.splitlines()[2:] == [
        "| `X_TOKEN` |  | `x-token` | An API token |",
        "| `X_MODE` | `fast` |  | How it runs; one of `fast`, `slow` |",
        "| `X_TRIES` | `3` |  | Tries \\| attempts (≥ 1, ≤ 9) |",
        "| `X_REFS` | `{}` |  | References |",
        "| `X_ON` | `true` |  | Enabled |",
    ]
    # A secret with no known block is still marked secret.
    assert "| `X_TOKEN` |  | yes |" in settings_table(_Small, env_prefix="X_", secret_block=lambda n: None)


def test_a_setting_without_a_description_is_refused() -> None:
    class Bare(BaseModel):
        quiet: int = 1

    with pytest.raises(DocsError, match=r"Bare\.quiet has no description"):
        settings_table(Bare, env_prefix="X_", secret_block=lambda n: None)


def test_sources_table_renders_each_source() -> None:
    class TinyConfig(BaseModel):
        tiny_token: SecretStr | None = Field(None, description="Token")
        tiny_url: str = Field("https://tiny.example", description="Address")

    def spec(name: str, lacks: dict[str, str]) -> SimpleNamespace:
        return SimpleNamespace(
            title=name.title(),
            credential="tiny_token",
            secret_blocks={"tiny_token": f"{name}-token"},
            config=TinyConfig,
            lacks=lacks,
        )

    registry = {"tiny": spec("tiny", {"dedup count": "never counted."}), "wee": spec("wee", {})}
    assert sources_table(registry, env_prefix="X_").splitlines()[2:] == [  # type: ignore[arg-type]
        "| `tiny` | Tiny | `X_TINY_TOKEN` (`tiny-token`) | `X_TINY_URL` | dedup count: never counted |",
        "| `wee` | Wee | `X_TINY_TOKEN` (`wee-token`) | `X_TINY_URL` | nothing the flows use |",
    ]


@flow(name="tiny")
def _tiny(
    where: str | None = None,
    deliver: list[Literal["a", "b"]] = ["a"],  # noqa: B006 - Prefect parameters are JSON defaults
    dry_run: bool = False,
) -> None:
    """Do little.

    Args:
        where: Where to go; default X_WHERE
        deliver: a, or b
        dry_run: Change nothing
    """


@flow(name="mute")
def _mute(where: str = "here") -> None:
    """No Args section."""


def test_flow_table_reads_signature_and_args() -> None:
    assert flow_table(_tiny).splitlines() == [
        "| parameter | type | default | meaning |",
        "|---|---|---|---|",
        "| `where` | `str \\| None` | `null` | Where to go; default X_WHERE |",
        "| `deliver` | `list[Literal['a', 'b']]` | `[\"a\"]` | a, or b |",
        "| `dry_run` | `bool` | `false` | Change nothing |",
    ]
    with pytest.raises(DocsError, match="flow mute: parameter where has no description"):
        flow_table(_mute)


PAGE = f"""# Page

Text above.

{begin("settings")}
| old | table |
{end("settings")}

Text below, with `{begin("not-a-marker")}` inline.
"""


def test_fill_replaces_only_between_markers() -> None:
    text, placed = fill(PAGE, {"settings": "| new |"}, "p.md")
    assert placed == ["settings"]
    assert text == PAGE.replace("| old | table |", "| new |")
    again, _ = fill(text, {"settings": "| new |"}, "p.md")
    assert again == text


def test_fill_refuses_broken_markers() -> None:
    with pytest.raises(DocsError, match=r"p\.md: no generated table is called 'settings'"):
        fill(PAGE, {"flow:x": ""}, "p.md")
    with pytest.raises(DocsError, match="has no <!-- END GENERATED settings -->"):
        fill(PAGE.replace(end("settings"), ""), {"settings": ""}, "p.md")


def test_render_places_each_table_once(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(PAGE, encoding="utf-8")
    with pytest.raises(DocsError, match="no page has a place for flow:x"):
        render([page], {"settings": "| new |", "flow:x": "| x |"})
    other = tmp_path / "b.md"
    other.write_text(PAGE, encoding="utf-8")
    with pytest.raises(DocsError, match="more than once"):
        render([page, other], {"settings": "| new |"})
    assert render([page], {"settings": "| new |"}) == {page: PAGE.replace("| old | table |", "| new |")}


def test_check_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "a.md"
    page.write_text(PAGE, encoding="utf-8")
    monkeypatch.setattr(docs, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(docs, "tables", lambda: {"settings": "| new |"})
    assert docs.main(["--check"]) == 1
    assert page.read_text(encoding="utf-8") == PAGE  # --check writes nothing
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0
    assert "| new |" in page.read_text(encoding="utf-8")
