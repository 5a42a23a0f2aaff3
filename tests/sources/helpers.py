"""What the per-source tests share: a source client built from the sandbox's settings for it, and
OpenAPI 3.0 descriptions read as JSON Schema (the fakes are checked against the vendors' specs)."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.sandbox.server import Sandbox
from oncall.settings import Settings, load_settings
from oncall.sources import AlertSource, build_source
from tests.conftest import FakeSleep


def source_from_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, name: str, **env: str) -> AlertSource:
    """`name`'s client, its settings in the environment (as a run reads them); `env` adds to them."""
    for key, value in {**sandbox.source_env(name), **env}.items():
        monkeypatch.setenv(key, value)
    return build_source(load_settings())


def source_with_sleep(sandbox: Sandbox, name: str, sleep: FakeSleep) -> AlertSource:
    """`name`'s client from settings given as arguments, sleeping through `sleep` between tries."""
    env = sandbox.source_env(name)
    settings = Settings(**{k.removeprefix("ONCALL_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    return build_source(settings, sleep=sleep)


def openapi_30(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: the value may also be null."""
    if isinstance(node, list):
        return [openapi_30(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_30(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [{"type": "null"}, out]} if node.get("nullable") else out
