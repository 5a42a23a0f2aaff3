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
