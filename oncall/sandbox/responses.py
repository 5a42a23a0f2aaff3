"""The fakes' JSON answers, encoded by orjson.

All fakes share one event loop, so the time one answer takes to encode is time every
concurrent request waits: with the standard encoder a 100-alert page cost 0.48 ms, which
queued eight concurrent page requests several milliseconds behind each other, a delay real
vendors (many servers) do not add. orjson takes 0.03 ms and writes the same bytes Starlette
did: compact separators, UTF-8 rather than \\u escapes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse as _StarletteJSON


class JSONResponse(_StarletteJSON):
    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # a lone surrogate: written as its `\\ud800` escape, as Python-built vendors do
            return json.dumps(content, separators=(",", ":")).encode()
