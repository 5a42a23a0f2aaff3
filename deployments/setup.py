"""`oncall setup blocks`: the Secret blocks and the settings Variable that deployments read.

Values come from the `ONCALL_*` environment, or, for secrets not set there and an interactive
terminal, from a hidden prompt. Nothing secret is ever printed: the report names blocks only.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable

from oncall.settings import SECRET_BLOCKS, Settings

NON_SECRET_EXCLUDED = {"out_dir"}


def setup_blocks(say: Callable[[str], None], prompt: bool | None = None) -> int:
    """Create or update every Secret block and the `oncall-settings` Variable; returns how many were written."""
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    from tasks.config import SETTINGS_VARIABLE

    interactive = sys.stdin.isatty() if prompt is None else prompt
    written = 0
    for name, block in SECRET_BLOCKS.items():
        value = os.environ.get(f"ONCALL_{name.upper()}")
        if not value and interactive:
            value = getpass.getpass(f"{block} (ONCALL_{name.upper()}, empty to skip): ")
        if not value:
            say(f"- {block}: skipped (ONCALL_{name.upper()} not set)")
            continue
        Secret(value=value).save(block, overwrite=True)
        written += 1
        say(f"✓ {block}: saved")
    checkout = os.environ.get("ONCALL_CHECKOUT") or os.getcwd()
    Variable.set("oncall_checkout", checkout, overwrite=True)
    say(f"✓ Variable oncall_checkout: {checkout} (where workers find this repository)")
    written += 1
    plain = {
        name: os.environ[f"ONCALL_{name.upper()}"]
        for name in Settings.model_fields
        if name not in SECRET_BLOCKS
        and name not in NON_SECRET_EXCLUDED
        and f"ONCALL_{name.upper()}" in os.environ
    }
    if plain:
        Variable.set(SETTINGS_VARIABLE, plain, overwrite=True)
        written += 1
        say(f"✓ Variable {SETTINGS_VARIABLE}: {', '.join(sorted(plain))}")
    else:
        say(f"- Variable {SETTINGS_VARIABLE}: no non-secret ONCALL_* settings in the environment")
    return written


AUTOMATION = "oncall-flows failed or late"
ALERT_BLOCK = "oncall-flow-alerts"
FAILURE_EVENTS = {
    "prefect.flow-run.Failed",
    "prefect.flow-run.Crashed",
    "prefect.flow-run.TimedOut",
    "prefect.flow-run.Late",
}


def setup_automations(say: Callable[[str], None], webhook_url: str) -> str:
    """One automation: any run of an `oncall`-tagged deployment that fails, crashes, times out or
    runs late posts to the team's Slack. Re-running replaces it; returns its id."""
    from prefect.automations import AutomationCore, EventTrigger, Posture, SendNotification
    from prefect.blocks.notifications import SlackWebhook
    from prefect.client.orchestration import get_client

    block_id = SlackWebhook(url=webhook_url).save(ALERT_BLOCK, overwrite=True)
    automation = AutomationCore(
        name=AUTOMATION,
        description="Tells the team when an on-call flow did not do its job.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.oncall"},
            expect=FAILURE_EVENTS,
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            SendNotification(
                block_document_id=block_id,
                subject="oncall-flows: {{ flow.name }} {{ flow_run.state.name }}",
                body="{{ flow.name }} run {{ flow_run.name }} is {{ flow_run.state.name }}: {{ flow_run|ui_url }}",
            )
        ],
    )
    with get_client(sync_client=True) as client:
        for existing in client.read_automations():
            if existing.name == AUTOMATION:
                client.delete_automation(existing.id)
        automation_id = client.create_automation(automation)
    say(
        f"✓ automation '{AUTOMATION}' posts to Slack (block {ALERT_BLOCK}) on {', '.join(sorted(FAILURE_EVENTS))}"
    )
    return str(automation_id)
