"""oncall-flows core: models, pure logic, clients and sandbox fakes. No Prefect import lives here."""

from __future__ import annotations

__all__: list[str] = []
