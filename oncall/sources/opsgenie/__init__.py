"""opsgenie."""
