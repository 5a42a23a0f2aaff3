"""PagerDuty as an alert source: its settings, what it lacks, how to build it, and its fake.
Light on purpose: the client and the fake load on use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec

API_TOKEN = "sandbox-pagerduty-token"  # noqa: S105 - the fake's throwaway token, a canary


class PagerDutyConfig(BaseModel):
    pagerduty_api_token: SecretStr | None = Field(
        None, description="PagerDuty REST API key (sent as `Token token=...`; a read-only key is enough)"
    )
    pagerduty_base_url: str = Field(
        "https://api.pagerduty.com",
        description="PagerDuty REST API URL: https://api.eu.pagerduty.com for the EU service region (sandbox, proxy)",
    )
    pagerduty_incident_type: str = Field(
        "major_incident",
        description="PagerDuty incident type whose incidents are the team's incidents (COE, incident-watch); "
        "every other PagerDuty incident is an alert",
    )


LACKS = {
    "dedup count": "PagerDuty drops a repeated event into its alert without counting it; each page counts once",
    "tags": "PagerDuty incidents carry no tags",
}


def _error(status: int) -> tuple[dict[str, str], Any]:
    """PagerDuty's `{"error": {...}}`; a 429 says in `ratelimit-reset` how many seconds to wait."""
    from oncall.sources.pagerduty.fake import error_body, rate_headers

    return (rate_headers(remaining=0, reset=1) if status == 429 else {}), error_body(status)


FAKE = FakeSpec(error=_error, credentials={"pagerduty_api_token": API_TOKEN}, alerts_path="/incidents")
SOURCE = SourceSpec(name="pagerduty", title="PagerDuty", config=PagerDutyConfig, fake=FAKE, lacks=LACKS)
