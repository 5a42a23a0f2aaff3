"""Run inside the opsgenie-sdk virtualenv (not the project's): the calls oncall makes, through the SDK.

Prints one JSON object of what the SDK parsed; the test in test_opsgenie_sdk.py checks it.
Reads OG_URL and OG_KEY from the environment.
"""

import json
import os
import sys

import opsgenie_sdk

conf = opsgenie_sdk.configuration.Configuration()
conf.host = os.environ["OG_URL"]
conf.api_key["Authorization"] = os.environ["OG_KEY"]
conf.api_key_prefix["Authorization"] = "GenieKey"
conf.retry_enabled = False
client = opsgenie_sdk.api_client.ApiClient(configuration=conf)
alerts = opsgenie_sdk.AlertApi(api_client=client)
incidents = opsgenie_sdk.IncidentApi(api_client=client)
out = {}

query = sys.argv[1]
count = alerts.count_alerts(query=query)
out["count"] = count.data.count
seen, offset = [], 0
while True:
    page = alerts.list_alerts(query=query, offset=offset, limit=100, sort="createdAt", order="asc")
    seen += [a.id for a in page.data]
    if not page.paging or not page.paging.next:
        break
    offset += 100
out["listed"] = seen
either = alerts.list_alerts(query="status:closed OR status:open", limit=1)
out["or_query_ok"] = len(either.data) == 1
one = alerts.get_alert(identifier=seen[0], identifier_type="id")
out["alert"] = {"id": one.data.id, "message": one.data.message, "created": one.data.created_at.isoformat()}
out["logs"] = len(alerts.list_logs(identifier=seen[0], limit=100, order="asc").data)
out["notes"] = len(alerts.list_notes(identifier=seen[0], limit=100, order="asc").data)

found = incidents.list_incidents(query="status:closed OR status:resolved", limit=100, order="asc")
out["incidents"] = [i.id for i in found.data]
out["incident"] = incidents.get_incident(identifier=found.data[0].id, identifier_type="id").data.id

created = alerts.create_alert(
    opsgenie_sdk.CreateAlertPayload(
        message='Zoë@ops-team </details> "x" #12', alias="sdk-1", tags=["sdk"], priority="P2"
    )
)
out["create"] = {"result": created.result, "request_id": created.request_id}
status = alerts.get_request_status(request_id=created.request_id)
out["status"] = {"is_success": status.data.is_success, "alert_id": status.data.alert_id}
listed = alerts.list_alerts(query="tag:sdk")
out["created"] = [
    {"id": a.id, "message": a.message, "created": a.created_at.isoformat()} for a in listed.data
]
try:
    alerts.create_alert(opsgenie_sdk.CreateAlertPayload(message="m" * 131))
    out["too_long"] = None
except opsgenie_sdk.exceptions.OpenApiException as exc:  # the SDK maps a 422 to ConfigurationException
    out["too_long"] = getattr(exc, "status", None)
print(json.dumps(out))
