"""Jira Service Management Operations (OpsGenie's successor) as an alert source: its settings,
how to build it, and its fake. Light on purpose: the client and the fake load on use."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, SecretStr

from oncall.sources import FakeSpec, SourceSpec

if TYPE_CHECKING:
    from oncall.sources.jsm.fake import State

# The fake's throwaway account: its API token, the email it belongs to, its cloud id.
API_TOKEN = "sandbox-jsm-token"  # noqa: S105 - the sandbox's, a canary
EMAIL = "oncall-bot@example.edu"
CLOUD_ID = "sandbox-cloud-0001"


class JsmConfig(BaseModel):
    jsm_site_url: str | None = Field(None, description="Your Atlassian site, e.g. https://acme.atlassian.net")
    jsm_email: str | None = Field(None, description="Atlassian account email the JSM API token belongs to")
    jsm_api_token: SecretStr | None = Field(
        None, description="Atlassian API token (Basic auth with the email)"
    )
    jsm_cloud_id: str | None = Field(None, description="Atlassian cloud id; default: read from the site")
    jsm_api_url: str = Field(
        "https://api.atlassian.com", description="Atlassian API gateway (sandbox, proxy)"
    )
    jsm_incident_project: str | None = Field(
        None, description="Jira project key holding JSM incidents; unset: incidents are not read"
    )


def _env(state: State, base_url: str) -> dict[str, str]:
    """The site and the API gateway are both the one mount (the fake answers both hosts)."""
    return {
        "ONCALL_JSM_SITE_URL": base_url,
        "ONCALL_JSM_API_URL": base_url,
        "ONCALL_JSM_EMAIL": state.email,
        "ONCALL_JSM_API_TOKEN": state.api_token,
        "ONCALL_JSM_INCIDENT_PROJECT": state.project,
    }


def _error(status: int) -> tuple[dict[str, str], Any]:
    """The Operations API's failure answer, OpsGenie's shape without the request id."""
    return {}, {"message": "Internal Server Error" if status >= 500 else "Error", "took": 0.001}


FAKE = FakeSpec(
    mount="atlassian",
    env=_env,
    error=_error,
    credentials={"jsm_api_token": API_TOKEN},
    canaries=(API_TOKEN, base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()),
    alerts_path=f"/jsm/ops/api/{CLOUD_ID}/v1/alerts",
    long_incident_id="OPS-101",
)
SOURCE = SourceSpec(name="jsm", title="Jira Service Management Operations", config=JsmConfig, fake=FAKE)
