"""The webhook relay end to end: an OpsGenie webhook becomes a coe-prep flow run."""

from __future__ import annotations

import asyncio
from uuid import UUID

import httpx
import pytest
from prefect.settings import PREFECT_API_URL

from deployments.relay import build_relay
from tests.flows.conftest import wait_for_runs


@pytest.mark.parametrize(
    "incident_id",
    [
        "inc-relay-1",
        "inc.relay.7f3a.2",  # split('.')[-1] made this "2", another incident
        "1203",  # an all-digit id stays a string through the template's JSON round trip
    ],
)
def test_a_webhook_post_starts_coe_prep_with_the_incident_id(coe_deployment: UUID, incident_id: str) -> None:
    app = build_relay("relay-secret", str(PREFECT_API_URL.value()))
    webhook = {
        "action": "IncidentResolve",
        "incident": {
            "id": incident_id,
            "message": "Payments down",
            "createdAt": 1_763_740_000_000,
            "updatedAt": 1_763_740_000_000 + 25 * 60_000,
        },
    }

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://relay"
        ) as client:
            return await client.post(
                "/opsgenie", json=webhook, headers={"X-Oncall-Relay-Secret": "relay-secret"}
            )

    response = asyncio.run(post())
    assert response.status_code == 202, response.text
    [run] = wait_for_runs(coe_deployment, incident_id=incident_id)
    assert run.parameters == {"incident_id": incident_id}


def test_a_signed_ticket_reaction_starts_sre_requests_for_that_message(prefect_server: None) -> None:
    """Slack's event through the relay, into the trigger exactly as prefect.yaml declares it: the
    run gets the channel and the ts as they were, the ts a string (it looks like a number)."""
    import yaml
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger

    from deployments.relay import SlackRoute
    from flows.sre_requests import sre_requests
    from oncall.sandbox.slack_events import reaction_added, signed_request
    from tests.flows.conftest import ROOT

    spec = next(
        d
        for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
        if d["name"] == "sre-requests"
    )
    trigger = DeploymentEventTrigger(**{k: v for k, v in spec["triggers"][0].items() if k != "type"})
    deployment = sre_requests.to_deployment(name="sre-requests", triggers=[trigger]).apply()
    route = SlackRoute(
        signing_secret="slack-signing-7", channels=frozenset({"C0RELAY"}), ticket_reaction="ticket"
    )
    app = build_relay(None, str(PREFECT_API_URL.value()), slack=route)
    body, headers = signed_request(
        reaction_added("C0RELAY", "1795468800.000100", "ticket", "U0ALICE"), "slack-signing-7"
    )

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://relay"
        ) as client:
            return await client.post("/slack/events", content=body, headers=headers)

    response = asyncio.run(post())
    assert response.status_code == 200, response.text
    [run] = wait_for_runs(deployment, channel="C0RELAY")  # type: ignore[arg-type]
    assert run.parameters == {"channel": "C0RELAY", "ts": "1795468800.000100"}
