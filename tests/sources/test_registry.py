"""The source registry: every source's settings, secrets and fake as Settings, the sandbox and the
tests read them, and an import of the settings that loads no client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, Field, SecretStr

from oncall.errors import ConfigError
from oncall.sandbox.server import Sandbox
from oncall.settings import API_URL_FIELDS, SECRET_BLOCKS, Settings, load_settings
from oncall.sources import DEFAULT_SOURCE, REGISTRY, SOURCE_NAMES, FakeSpec, SourceSpec, source_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = list(REGISTRY.values())


def test_the_names_are_the_packages_in_order_the_default_first() -> None:
    assert tuple(REGISTRY) == SOURCE_NAMES and DEFAULT_SOURCE == SOURCE_NAMES[0] == "opsgenie"
    assert {p.name for p in (ROOT / "oncall" / "sources").iterdir() if (p / "__init__.py").is_file()} == set(
        SOURCE_NAMES
    ), "a source package that is not in the registry, or one that is gone"


@pytest.mark.parametrize("spec", SPECS, ids=SOURCE_NAMES)
def test_a_source_s_settings_are_its_own_and_described(spec: SourceSpec) -> None:
    fields = spec.config.model_fields
    assert fields and all(name.startswith(f"{spec.name}_") for name in fields), list(fields)
    assert all(f.description for f in fields.values())
    assert spec.credential in spec.secret_blocks
    for secret, block in spec.secret_blocks.items():
        assert secret in fields and SecretStr in getattr(fields[secret].annotation, "__args__", ())
        assert block == f"oncall-{secret.replace('_', '-')}"
    assert set(spec.url_fields) <= set(fields)
    assert set(spec.fake.credentials) <= set(spec.secret_blocks)
    assert set(spec.fake.credentials.values()) <= set(spec.fake.canaries)


class _TinyConfig(BaseModel):
    tiny_api_token: SecretStr | None = Field(None, description="Token")
    tiny_base_url: str = Field("https://tiny.example", description="Address")
    tiny_region: str = Field("us", description="Region")


def _tiny(**given: object) -> SourceSpec:
    fake = FakeSpec(
        error=lambda status: ({}, {}), credentials={"tiny_api_token": "t0k"}, alerts_path="/alerts"
    )
    return SourceSpec(name="tiny", title="Tiny", config=_TinyConfig, fake=fake, **given)  # type: ignore[arg-type]


def test_what_a_source_does_not_give_follows_from_its_name() -> None:
    spec = _tiny()
    assert (spec.credential, dict(spec.secret_blocks), spec.url_fields) == (
        "tiny_api_token",
        {"tiny_api_token": "oncall-tiny-api-token"},
        ("tiny_base_url",),
    )
    assert spec.credential_hint == "ONCALL_TINY_API_TOKEN (Secret block 'oncall-tiny-api-token')"
    assert spec.build.__name__ == "oncall.sources.tiny.client:build"
    named = [spec.fake.state.__name__, spec.fake.app.__name__, spec.fake.seed.__name__]
    assert named == [
        "oncall.sources.tiny.fake:State",
        "oncall.sources.tiny.fake:app",
        "oncall.sources.tiny.seed:seed",
    ]
    assert spec.fake.mount == "tiny" and spec.fake.canaries == ("t0k",)
    state = type("State", (), {"api_token": "the state's"})()
    assert spec.fake.env(state, "http://127.0.0.1:1/tiny") == {
        "ONCALL_TINY_BASE_URL": "http://127.0.0.1:1/tiny",
        "ONCALL_TINY_API_TOKEN": "the state's",
    }


def test_what_a_source_gives_wins_over_the_convention() -> None:
    spec = _tiny(url_fields=("tiny_region",), secret_blocks={"tiny_api_token": "acme-tiny"})
    assert spec.url_fields == ("tiny_region",) and spec.credential_hint.endswith("'acme-tiny')")
    with pytest.raises(TypeError, match="credential"):

        class Two(_TinyConfig):
            tiny_other_token: SecretStr | None = Field(None, description="Another")

        SourceSpec(name="tiny", title="Tiny", config=Two, fake=_tiny().fake)


@pytest.mark.parametrize("spec", SPECS, ids=SOURCE_NAMES)
def test_settings_carry_each_source_s_fields_as_the_source_defines_them(spec: SourceSpec) -> None:
    for name, field in spec.config.model_fields.items():
        assert Settings.model_fields[name].description == field.description
        assert Settings.model_fields[name].default == field.default
    assert {n: SECRET_BLOCKS[n] for n in spec.secret_blocks} == dict(spec.secret_blocks)
    assert set(spec.url_fields) <= set(API_URL_FIELDS)
    assert load_settings([], source=spec.name).source == spec.name


def test_the_source_setting_takes_exactly_the_registry_s_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_SOURCE", "pagerduty-classic")
    with pytest.raises(ConfigError, match="ONCALL_SOURCE") as raised:
        load_settings([])
    assert all(repr(name) in str(raised.value) for name in SOURCE_NAMES)
    with pytest.raises(ConfigError, match=", ".join(SOURCE_NAMES)):
        source_spec("pagerduty-classic")


def test_a_url_setting_of_a_source_must_be_http() -> None:
    for name in (n for spec in SPECS for n in spec.url_fields):
        with pytest.raises(ConfigError, match=f"ONCALL_{name.upper()}.*http"):
            load_settings([], **{name: "ftp://example.com"})


@pytest.mark.parametrize("spec", SPECS, ids=SOURCE_NAMES)
def test_the_sandbox_serves_each_source_and_fails_as_its_vendor_does(
    sandbox: Sandbox, spec: SourceSpec
) -> None:
    path = f"/{spec.fake.mount}{spec.fake.alerts_path}"
    sandbox.script(path, 429)
    limited = httpx.get(f"{sandbox.url}{path}")
    headers, body = spec.fake.error(429)
    assert limited.status_code == 429
    assert {h.lower() for h in headers} <= set(limited.headers) and set(limited.json()) == set(body)
    sandbox.script(path, 503)
    failed = httpx.get(f"{sandbox.url}{path}")
    assert failed.status_code == 503 and set(failed.json()) == set(spec.fake.error(503)[1])
    unauthenticated = httpx.get(f"{sandbox.url}{path}")  # the fake itself answers, not the router
    assert unauthenticated.status_code in (401, 403), unauthenticated.text[:200]
    env = sandbox.source_env(spec.name)
    assert env["ONCALL_SOURCE"] == spec.name and set(spec.fake.credentials.values()) <= set(env.values())


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_importing_the_settings_loads_no_client_and_the_names_load_no_pydantic() -> None:
    loaded = _fresh(
        "import sys, oncall.settings; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('httpx', 'starlette', 'github', 'gspread', 'prefect') or m.startswith('oncall.clients') "
        "or (m.startswith('oncall.') and m.endswith(('.client', '.fake', '.seed')))))"
    )
    assert loaded == "[]"
    assert (
        _fresh("import sys; from oncall.sources import SOURCE_NAMES; print('pydantic' in sys.modules)")
        == "False"
    )
