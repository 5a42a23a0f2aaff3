"""`oncall setup blocks`: the Secret blocks and the settings Variable that deployments read.

Values come from the `ONCALL_*` environment and the config file (`oncall.settings.load_settings`:
environment, then file, then defaults), or, for secrets set in neither and an interactive
terminal, from a hidden prompt. Each value is compared with what the server holds and reported
as kept, changed or skipped. Blocks and Variable values the sandbox left behind (its URLs on
127.0.0.1, its throwaway credentials) are named, so a team going live does not keep posting to a
local fake; `remove_sandbox` deletes them. Nothing secret is ever printed: lines name blocks only.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from oncall.settings import (
    SECRET_BLOCKS,
    Settings,
    load_settings,
    sandbox_values,
    secret_block,
    secret_env,
    settings_layers,
    settings_sources,
)

NON_SECRET_EXCLUDED = {"out_dir"}  # each machine writes to its own disk
CHECKOUT_VARIABLE = "oncall_checkout"
FIX = "`oncall setup blocks --remove-sandbox` removes it, or set the real value and run this again"


def variable_values(settings: Settings) -> dict[str, Any]:
    """What the `oncall-settings` Variable should hold: every non-secret setting the environment
    or the file sets (defaults stay out, so workers get new defaults with new code), and the
    `secrets` references."""
    origins = settings_sources(settings)
    dumped = settings.model_dump(mode="json", include=set(Settings.model_fields) - set(SECRET_BLOCKS))
    return {
        name: dumped[name]
        for name in Settings.model_fields
        if name not in SECRET_BLOCKS
        and name not in NON_SECRET_EXCLUDED
        and origins[name] in ("env", "file")
        and not (name == "secrets" and not dumped[name])
    }


def _secret_value(settings: Settings, name: str) -> str | None:
    value = getattr(settings, name)
    return value.get_secret_value() if value is not None else None


def _server_secret(block: str) -> str | None:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(block).get()  # type: ignore[union-attr]
    except ValueError:
        return None  # no such block
    return value if isinstance(value, str) else None if value is None else str(value)


def setup_blocks(say: Callable[[str], None], prompt: bool | None = None, remove_sandbox: bool = False) -> int:
    """Create or update every Secret block and the `oncall-settings` Variable from the environment
    and the config file; returns how many were written. A bad setting or file raises ConfigError
    before anything is written (and before Prefect is imported, so it answers at once)."""
    settings = load_settings()
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    from tasks.config import SETTINGS_VARIABLE

    layers = settings_layers(settings)
    say(f"Settings from the environment{''.join(f' and {w}' for w in layers) or ' (no config file)'}")
    interactive = sys.stdin.isatty() if prompt is None else prompt
    written = 0
    warnings = 0
    for name in SECRET_BLOCKS:
        block = secret_block(settings, name)
        names = " / ".join(secret_env(settings, name))
        server = _server_secret(block)
        value = _secret_value(settings, name)
        if not value and interactive:
            value = getpass.getpass(f"{block} ({names}, empty to skip): ") or None
        if not value:
            left = sandbox_values({name: server}).get(name) if server else None
            if left and remove_sandbox:
                Secret.delete(block)
                written += 1
                say(f"✓ {block}: removed (it held {left})")
            elif left:
                warnings += 1
                say(f"⚠ {block}: skipped ({names} not set), and the block still holds {left}; {FIX}")
            else:
                held = "the server's value stays" if server is not None else "the server has none"
                say(f"- {block}: skipped ({names} not set; {held})")
            continue
        note = sandbox_values({name: value}).get(name)
        if value == server:
            say(f"= {block}: kept (the server holds the same value)" + (f"; this is {note}" if note else ""))
            continue
        Secret(value=value).save(block, overwrite=True)
        written += 1
        say(
            f"✓ {block}: changed ({'new' if server is None else 'replaced'})"
            + (f"; this is {note}" if note else "")
        )
    checkout = os.environ.get("ONCALL_CHECKOUT") or os.getcwd()
    if Variable.get(CHECKOUT_VARIABLE, default=None) == checkout:
        say(f"= Variable {CHECKOUT_VARIABLE}: kept ({checkout})")
    else:
        Variable.set(CHECKOUT_VARIABLE, checkout, overwrite=True)
        written += 1
        say(f"✓ Variable {CHECKOUT_VARIABLE}: changed to {checkout} (where workers find this repository)")
    origins = {k: ORIGIN_WORDS.get(v, v) for k, v in settings_sources(settings).items()}
    written_var, warned = _setup_variable(
        say, SETTINGS_VARIABLE, variable_values(settings), remove_sandbox, origins
    )
    written += written_var
    warnings += warned
    warnings += _check_alert_block(say)
    if warnings:
        say(f"⚠ {warnings} sandbox value(s) still on the server: deployed runs would use them")
    return written


def _setup_variable(
    say: Callable[[str], None],
    variable: str,
    wanted: dict[str, Any],
    remove_sandbox: bool,
    origins: dict[str, str] | None = None,
) -> tuple[int, int]:
    """One line per key of the Variable: kept, changed, skipped (only the server has it) or removed."""
    from prefect.variables import Variable

    current = Variable.get(variable, default=None)
    malformed = current is not None and not isinstance(current, dict)
    if malformed:
        say(f"⚠ Variable {variable}: was not a JSON object; replaced")
    server: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    result = dict(server)
    warnings = 0
    for key in sorted(set(wanted) | set(server)):
        label = f"Variable {variable}.{key}"
        if key in SECRET_BLOCKS or key not in Settings.model_fields:
            result.pop(key)
            what = "a secret, which belongs in its Secret block" if key in SECRET_BLOCKS else "not a setting"
            say(f"✓ {label}: removed ({what}; workers would refuse it)")
        elif key in wanted and server.get(key) == wanted[key]:
            note = sandbox_values({key: wanted[key]}).get(key)
            say(
                f"= {label}: kept ({wanted[key]!r}{_from(origins, key)})"
                + (f"; this is {note}" if note else "")
            )
        elif key in wanted:
            result[key] = wanted[key]
            was = f"was {server[key]!r}" if key in server else "new"
            note = sandbox_values({key: wanted[key]}).get(key)
            say(
                f"✓ {label}: changed to {wanted[key]!r} ({was}{_from(origins, key)})"
                + (f"; this is {note}" if note else "")
            )
        else:
            left = sandbox_values({key: server[key]}).get(key)
            if left and remove_sandbox:
                result.pop(key)
                say(f"✓ {label}: removed (it held {left}; workers now use the default)")
            elif left:
                warnings += 1
                say(
                    f"⚠ {label}: skipped (not set in the environment or the file), and it holds {left}; {FIX}"
                )
            else:
                say(
                    f"- {label}: skipped (not set in the environment or the file; the server keeps {server[key]!r})"
                )
    if not wanted and not server:
        say(f"- Variable {variable}: no non-secret settings in the environment or the file")
    if result == server and not malformed:
        return 0, warnings  # nothing to write (and no empty Variable made where there was none)
    Variable.set(variable, result, overwrite=True)
    return 1, warnings


ORIGIN_WORDS = {"env": "the environment", "file": "the config file"}


def _from(origins: dict[str, str] | None, key: str) -> str:
    return f"; from {origins[key]}" if origins and key in origins else ""


def _check_alert_block(say: Callable[[str], None]) -> int:
    """`oncall setup automations` posts failures through a Slack block: name it if it is the sandbox's."""
    from prefect.blocks.notifications import SlackWebhook

    try:
        hook = SlackWebhook.load(ALERT_BLOCK)
    except ValueError:
        return 0
    url = hook.url.get_secret_value()  # type: ignore[union-attr]
    left = sandbox_values({"slack_webhook_url": url}).get("slack_webhook_url")
    if not left:
        return 0
    say(
        f"⚠ block {ALERT_BLOCK}: flow-failure alerts post to {left}; run `oncall setup automations` "
        "with the team's ONCALL_SLACK_WEBHOOK_URL"
    )
    return 1


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


def forget_sandbox(say: Callable[[str], None]) -> int:
    """What a sandbox `make serve` wrote, removed at its Ctrl-C: the settings Variable (every value
    in it was the sandbox's) and each default Secret block holding a sandbox value. Returns how many."""
    from prefect.blocks.system import Secret
    from prefect.variables import Variable

    from tasks.config import SETTINGS_VARIABLE

    removed = 0
    if Variable.get(SETTINGS_VARIABLE, default=None) is not None:
        Variable.unset(SETTINGS_VARIABLE)
        removed += 1
        say(f"✓ Variable {SETTINGS_VARIABLE}: removed")
    for name, block in SECRET_BLOCKS.items():
        server = _server_secret(block)
        if server and name in sandbox_values({name: server}):
            Secret.delete(block)
            removed += 1
            say(f"✓ {block}: removed (the sandbox's)")
    return removed


if __name__ == "__main__":  # `make serve` calls this at Ctrl-C, in a process that has PREFECT_API_URL
    if sys.argv[1:] != ["--forget-sandbox"]:
        sys.exit("usage: python -m deployments.setup --forget-sandbox")
    forget_sandbox(print)
