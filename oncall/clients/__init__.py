"""The source, GitHub, Google and Slack clients. Only what `oncall.settings` needs at import stands here,
so that reading the settings (and a one-line answer to a bad one) never waits for httpx."""

DEFAULT_CONCURRENCY = 16
"""Requests in flight per API.

Vendors limit the rate, not the connections: OpsGenie and JSM by token buckets per second and
per minute, GitHub at 100 concurrent requests. The number of requests a run makes does not
change with this, and a 429 holds the whole client (`ApiClient`), so more in flight does not
mean more throttled requests. At 50 ms a request, paging 50,000 alerts takes 2.8 s at 16
against 4.2 s at 8 (`make bench`).
"""
