"""Settings for a flow run: the environment first, then one Variable, then Secret blocks.

A deployed run (one a worker started) reads `ONCALL_*` environment variables, then the JSON
Variable `oncall-settings` (which `oncall setup blocks` writes from the team's environment and
config file), then the defaults. It never reads a config file: a worker's disk is its own.
Secrets come from the environment (ONCALL_<NAME>, or the variable a `secrets` reference names)
or else the Secret block in force (`oncall.settings.secret_block`).

A flow run from the command line (no deployment) reads the config file too, between the
environment and the Variable, as every other CLI command does. `ONCALL_USE_PREFECT_CONFIG=0`
(the demo, benchmarks) means the environment and the defaults only.
"""

from __future__ import annotations

import os
from typing import Any

from prefect.blocks.system import Secret
from prefect.variables import Variable

from oncall.errors import ConfigError
from oncall.settings import (
    SECRET_BLOCKS,
    Origin,
    Settings,
    SettingsLayer,
    file_layer,
    load_settings,
    secret_block,
    settings_layers,
    settings_sources,
    with_origins,
)

SETTINGS_VARIABLE = "oncall-settings"
VARIABLE_WHERE = f"Variable '{SETTINGS_VARIABLE}'"


def is_deployment_run() -> bool:
    """True inside a run a deployment created (a worker's), False for a flow called directly."""
    from prefect.runtime import deployment

    return deployment.id is not None


def variable_layer(stored: Any = ...) -> SettingsLayer | None:
    """The `oncall-settings` Variable as a settings layer (checked like the file), or None."""
    if stored is ...:
        stored = Variable.get(SETTINGS_VARIABLE, default=None)
    if stored is None:
        return None
    if not isinstance(stored, dict):
        raise ConfigError(
            f"{VARIABLE_WHERE} must be a JSON object of settings, not {type(stored).__name__}; "
            "run `oncall setup blocks` to rewrite it"
        )
    return SettingsLayer("variable", VARIABLE_WHERE, stored)


def resolve_settings(*, deployed: bool | None = None) -> Settings:
    """Environment, then the layers (deployed: the Variable; local: the file, then the Variable),
    then defaults; secrets still unset come from their Secret blocks. `deployed` None: ask Prefect."""
    if os.environ.get("ONCALL_USE_PREFECT_CONFIG", "1") == "0":
        return load_settings(layers=[])
    if deployed is None:
        deployed = is_deployment_run()
    variable = variable_layer()
    layers = [variable] if deployed else [file_layer(), variable]
    settings = load_settings(layers=layers)
    from_blocks: dict[str, Any] = {}
    for name in SECRET_BLOCKS:
        if getattr(settings, name) is not None:
            continue  # the environment (or a reference into it) wins
        try:
            from_blocks[name] = Secret.load(secret_block(settings, name)).get()  # type: ignore[union-attr]
        except ValueError:
            continue  # no such block: the setting stays unset and `require` names it
    if not from_blocks:
        return settings
    origins: dict[str, Origin] = {**settings_sources(settings), **dict.fromkeys(from_blocks, "block")}
    return with_origins(load_settings(layers=layers, **from_blocks), origins, settings_layers(settings))
