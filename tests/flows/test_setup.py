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


def test_setup_automations_creates_one_failure_alert() -> None:
    from prefect.client.orchestration import get_client

    from deployments.setup import AUTOMATION, FAILURE_EVENTS, setup_automations

    lines: list[str] = []
    setup_automations(lines.append, "https://hooks.slack.com/services/T0/B0/canaryalerthook")
    second = setup_automations(lines.append, "https://hooks.slack.com/services/T0/B0/canaryalerthook")
    with get_client(sync_client=True) as client:
        mine = [a for a in client.read_automations() if a.name == AUTOMATION]
    assert [str(a.id) for a in mine] == [second]  # re-running replaces, never duplicates
    trigger = mine[0].trigger
    assert set(trigger.expect) == FAILURE_EVENTS
    assert trigger.match_related.root == {
        "prefect.resource.role": "tag",
        "prefect.resource.id": "prefect.tag.oncall",
    }
    assert not any("canaryalerthook" in line for line in lines)
