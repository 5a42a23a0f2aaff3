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
    [run] = wait_for_runs(coe_deployment, incident_id)
    assert run.parameters == {"incident_id": incident_id}
