"""The source, GitHub, Google and Slack clients. Nothing here is loaded by `oncall.settings`:
the retry policy and the concurrency default live in the core, `oncall.retry`."""

from oncall.retry import (
    DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY,  # until oncall.sources.base imports oncall.retry
)
