"""How hard every outside call tries: the retry policy and the requests in flight per API.

Core, not a client: `oncall.settings` builds these from its fields, and the clients' one HTTP
stage (`oncall.clients.http`) reads them, so reading the settings never loads httpx or a vendor SDK.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CONCURRENCY = 16
"""Requests in flight per API.

Vendors limit the rate, not the connections: OpsGenie and JSM by token buckets per second and
per minute, GitHub at 100 concurrent requests. The number of requests a run makes does not
change with this, and a 429 holds the whole client (`ApiClient`), so more in flight does not
mean more throttled requests. At 50 ms a request, paging 50,000 alerts takes 2.8 s at 16
against 4.2 s at 8 (`make bench`).
"""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Sleeping stops once `max_total_sleep` seconds are spent."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_sleep: float = 90.0

    def backoff(self, attempt: int) -> float:
        """The exponential delay after failed attempt `attempt` (1-based), capped."""
        return float(min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1)))
