"""Settings for a flow run: environment first, then Prefect Secret blocks and one Variable.

Deployments keep secrets in Secret blocks (names in `oncall.settings.SECRET_BLOCKS`) and
non-secret settings in the JSON Variable `oncall-settings`; local runs use `ONCALL_*`
environment variables, which win.
"""

from __future__ import annotations

import os
from typing import Any

from prefect.blocks.system import Secret
from prefect.variables import Variable

from oncall.settings import SECRET_BLOCKS, Settings, load_settings

SETTINGS_VARIABLE = "oncall-settings"


def resolve_settings() -> Settings:
    """Environment, then the Variable for unset non-secrets, then Secret blocks for unset secrets."""
    overrides: dict[str, Any] = {}
    if os.environ.get("ONCALL_USE_PREFECT_CONFIG", "1") != "0":
        stored = Variable.get(SETTINGS_VARIABLE, default=None)
        if isinstance(stored, dict):
            overrides.update(
                {
                    k: v
                    for k, v in stored.items()
                    if k not in SECRET_BLOCKS and f"ONCALL_{k.upper()}" not in os.environ
                }
            )
        for name, block in SECRET_BLOCKS.items():
            if os.environ.get(f"ONCALL_{name.upper()}"):
                continue
            try:
                overrides[name] = Secret.load(block).get()  # type: ignore[union-attr]
            except ValueError:
                continue  # no such block: the setting stays unset and `require` names it
    return load_settings(**overrides)
