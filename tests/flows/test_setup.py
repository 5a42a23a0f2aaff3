from __future__ import annotations

import pytest
from prefect.blocks.system import Secret
from prefect.variables import Variable

from deployments.setup import setup_blocks
from tasks.config import SETTINGS_VARIABLE, resolve_settings


def test_setup_blocks_saves_secrets_and_settings_without_printing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ONCALL_GITHUB_TOKEN", "canary-setup-token-55")
    monkeypatch.setenv("ONCALL_SCHEDULE", "Ops Weekly")
    monkeypatch.setenv("ONCALL_TEAM_TIMEZONE", "Europe/Berlin")
    lines: list[str] = []
    monkeypatch.setenv("ONCALL_CHECKOUT", "/srv/oncall-flows")
    assert setup_blocks(lines.append, prompt=False) == 3
    assert Variable.get("oncall_checkout") == "/srv/oncall-flows"
    assert Secret.load("oncall-github-token").get() == "canary-setup-token-55"
    assert Variable.get(SETTINGS_VARIABLE) == {"schedule": "Ops Weekly", "team_timezone": "Europe/Berlin"}
    assert not any("canary-setup-token-55" in line for line in lines)
    # A deployment's run, with nothing in its environment, reads them back.
    for key in ("ONCALL_GITHUB_TOKEN", "ONCALL_SCHEDULE", "ONCALL_TEAM_TIMEZONE"):
        monkeypatch.delenv(key)
    settings = resolve_settings()
    assert settings.schedule == "Ops Weekly" and settings.team_timezone == "Europe/Berlin"
    assert settings.require("github_token") == "canary-setup-token-55"
    Variable.set(SETTINGS_VARIABLE, {}, overwrite=True)
    Secret.delete("oncall-github-token")
