"""OpsGenie as an alert source: its settings, what it lacks, how to build it, and its fake.

Atlassian shuts OpsGenie down on 2027-04-05; teams move to JSM Operations or another source.
Light on purpose (`import oncall.settings` reads it): the client and the fake load on use.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec, lazy

if TYPE_CHECKING:
    from oncall.sources.opsgenie.fake import OpsGenieState

API_KEY = "sandbox-opsgenie-key"  # the fake's throwaway key


class OpsGenieConfig(BaseModel):
    opsgenie_api_key: SecretStr | None = Field(None, description="OpsGenie API key (GenieKey)")
    opsgenie_region: Literal["us", "eu"] = Field("us", description="OpsGenie account region")
    opsgenie_base_url: str | None = Field(None, description="Override the OpsGenie API URL (sandbox, proxy)")


def _env(state: OpsGenieState, base_url: str) -> dict[str, str]:
    return {"ONCALL_OPSGENIE_BASE_URL": base_url, "ONCALL_OPSGENIE_API_KEY": state.api_key}


def _error(status: int) -> tuple[dict[str, str], Any]:
    """OpsGenie's failure answer: a message, `took` and a request id; a 429 names the throttle."""
    if status == 429:
        headers = {
            "X-RateLimit-State": "THROTTLED",
            "X-RateLimit-Reason": "ACCOUNT",
            "X-RateLimit-Period-In-Sec": "60",
        }
        return headers, {"message": "TooManyRequests", "took": 0.001, "requestId": str(uuid.uuid4())}
    message = "Internal Server Error" if status >= 500 else "Error"
    return {}, {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}


SOURCE = SourceSpec(
    name="opsgenie",
    title="OpsGenie",
    config=OpsGenieConfig,
    credential="opsgenie_api_key",
    secret_blocks={"opsgenie_api_key": "oncall-opsgenie-api-key"},
    url_fields=("opsgenie_base_url",),
    build=lazy("oncall.sources.opsgenie.client:build"),
    fake=FakeSpec(
        mount="opsgenie",
        state=lazy("oncall.sources.opsgenie.fake:OpsGenieState"),
        seed=lazy("oncall.sources.opsgenie.fake:seed_opsgenie"),
        app=lazy("oncall.sources.opsgenie.fake:build_opsgenie_app"),
        env=_env,
        error=_error,
        credentials={"opsgenie_api_key": API_KEY},
        canaries=(API_KEY,),
        alerts_path="/v2/alerts",
        long_incident_id="inc-7f3a-0001",
        web_links={"https://app.opsgenie.com/": "opsgenie/", "https://api.opsgenie.com/": "opsgenie/"},
    ),
)
