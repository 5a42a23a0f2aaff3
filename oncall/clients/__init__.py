"""The source, GitHub, Google and Slack clients, all through one HTTP stage (`http`). Nothing here
is loaded by `oncall.settings`: the retry policy and the concurrency default live in the core,
`oncall.retry`."""
