"""An error page that echoes the request path (Apache, nginx, Express behind a proxy) must not
carry a secret out of a client: the Slack webhook path, a token, a Basic credential."""

from __future__ import annotations

import base64
import traceback
from urllib.parse import quote

import httpx
import pytest

from oncall.clients.http import ApiClient
from oncall.clients.slack import SlackWebhook
from oncall.errors import NotFoundError, OutsideError
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep, leaks

APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n<p>The requested URL {path} was not found on this server.</p>\n"
    "</body></html>\n"
)


def echo_pages(path: str) -> dict[str, bytes]:
    """The request path as error pages echo it: as is, percent-encoded, and JSON-escaped."""
    return {
        "apache": APACHE_404.format(path=path).encode(),
        "percent-encoded": f"<h1>404</h1> no such page: {quote(path, safe='')}".encode(),
        "lower-case-percent": f"no such page: {quote(path, safe='').lower()}".encode(),
        "express": f"Cannot POST {path}".encode(),
        "json-escaped": ('{"detail": "no route", "path": "' + path.replace("/", "\\/") + '"}').encode(),
    }


def _error_text(exc: BaseException) -> str:
    return str(exc) + "".join(traceback.format_exception(exc))


@pytest.mark.parametrize("page", list(echo_pages("/x")))
def test_a_404_page_echoing_the_webhook_path_leaks_nothing(sandbox: Sandbox, page: str) -> None:
    path = "/slack" + sandbox.state.slack.webhook_path
    sandbox.script("/slack/services", 404, body=echo_pages(path)[page])
    with SlackWebhook(sandbox.slack_webhook_url) as hook, pytest.raises(NotFoundError) as caught:
        hook.post({"text": "hand-off"})
    assert leaks(_error_text(caught.value)) == []
    assert "[redacted]" in str(caught.value)


def test_tokens_and_the_basic_credential_are_scrubbed_from_vendor_text(fake_sleep: FakeSleep) -> None:
    token = "canary-opsgenie-key-7f1e2d"
    basic = httpx.BasicAuth("oncall-bot@example.edu", "sandbox-jsm-token")
    header = basic._auth_header  # what the proxy saw
    echoed = f"bad header Authorization: GenieKey {token}; {header}; {quote(token)}"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=echoed)

    clients = [
        ApiClient(
            system="Vendor",
            base_url="http://vendor.test",
            credential_setting="ONCALL_X",
            transport=httpx.MockTransport(answer),
            sleep=fake_sleep,
            **options,  # type: ignore[arg-type]
        )
        for options in ({"headers": {"Authorization": f"GenieKey {token}"}}, {"auth": basic})
    ]
    for client in clients:  # an error names no secret that any client of the process sends
        with client, pytest.raises(OutsideError) as caught:
            client.request("GET", "/alerts", what="alerts")
        assert leaks(_error_text(caught.value)) == []
    assert base64.b64decode(header.split()[1]).decode().endswith(":sandbox-jsm-token")


def test_scrub_leaves_ordinary_text_alone() -> None:
    from oncall.errors import scrub

    assert scrub("HTTP 404 on /v2/alerts: no such alert") == "HTTP 404 on /v2/alerts: no such alert"


def test_a_key_file_is_scrubbed_line_by_line_but_the_hosts_it_names_are_no_secret() -> None:
    """A service-account key is JSON that holds URLs, not a URL: its hosts stay readable."""
    import json

    from oncall.errors import remember_secret, scrub
    from oncall.sandbox.seed import sandbox_service_account

    key = {
        **sandbox_service_account(),
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
    }
    remember_secret(json.dumps(key, indent=2))
    line = key["private_key"].splitlines()[5]
    said = scrub(
        f"Drive: HTTP 404 on https://www.googleapis.com/drive/v3/files/x via oauth2.googleapis.com; {line}"
    )
    assert (
        said
        == "Drive: HTTP 404 on https://www.googleapis.com/drive/v3/files/x via oauth2.googleapis.com; [redacted]"
    )


def test_the_registry_stays_bounded_and_keeps_the_secrets_still_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every client and `Settings.require` register their secrets again, so the ones in use stay
    recent; a process that meets ever new ones (rotated tokens) drops the longest unused."""
    from collections import OrderedDict

    from oncall import errors

    monkeypatch.setattr(errors._Secrets, "known", OrderedDict())
    monkeypatch.setattr(errors._Secrets, "forms", frozenset())
    monkeypatch.setattr(errors._Secrets, "lowered", ())
    monkeypatch.setattr(errors._Secrets, "pattern", None)
    monkeypatch.setattr(errors, "_MOST", 4)
    for n in range(10):
        errors.remember_secret("in-use-secret-0000")
        errors.remember_secret(f"rotated-token-{n:04d}")
    assert len(errors._Secrets.known) == 4
    said = errors.scrub("in-use-secret-0000 rotated-token-0000 rotated-token-0009")
    assert said == "[redacted] rotated-token-0000 [redacted]"
    # The quick look for ASCII text and the regex for the rest agree, in any letter case.
    assert errors.scrub("IN-USE-SECRET-0000") == errors.scrub("é In-Use-Secret-0000")[2:] == "[redacted]"
    errors.remember_secret("short")  # would blank ordinary words: not scrubbed
    assert errors.scrub("a short word") == "a short word"


def test_the_token_exchange_leaks_neither_its_assertion_nor_its_token(
    fake_sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    """Google's token exchange goes through the stage, so what it sends (the signed assertion) and
    what it gets (the access token) are scrubbed from every error and never logged, even when an
    error page echoes them back."""
    import time
    from urllib.parse import parse_qs

    from oncall.clients.google import GoogleWorkspace
    from oncall.errors import AuthError
    from oncall.retry import RetryPolicy
    from oncall.sandbox.seed import sandbox_service_account

    token = f"ya29.scrub-canary-{time.time_ns()}"
    sent: list[str] = []
    refuse = [True]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            sent.append(parse_qs(request.content.decode())["assertion"][0])
            if refuse[0]:
                return httpx.Response(400, json={"error": f"invalid_grant for {sent[-1]}"})
            if len(sent) == 2:
                return httpx.Response(503, text=f"upstream lost the token {token}")
            return httpx.Response(200, json={"access_token": token, "expires_in": 3599})
        said = request.headers["authorization"]
        return httpx.Response(403, json={"error": {"message": f"{said} lacks the Drive scope"}})

    caplog.set_level("DEBUG")
    errors: list[BaseException] = []
    for attempt in ("refused", "accepted"):
        refuse[0] = attempt == "refused"
        key = {**sandbox_service_account(), "private_key_id": f"scrub-{attempt}-{time.time_ns()}"}
        with (
            GoogleWorkspace(
                key,
                base_url="https://google.invalid",
                transport=httpx.MockTransport(answer),
                retry=RetryPolicy(attempts=3, base_delay=0.5),
                sleep=fake_sleep,
            ) as gw,
            pytest.raises(AuthError) as caught,
        ):
            gw.get_file("f1")
        errors.append(caught.value)
    assert len(sent) == 3  # refused once; then a 503 retried by the stage, then a token
    assert "ONCALL_GOOGLE_SERVICE_ACCOUNT" in str(errors[0]) and "invalid_grant" in str(errors[0])
    assert all("[redacted]" in str(e) for e in errors)
    for secret in (*sent, token):
        assert all(secret not in _error_text(e) for e in errors)
        assert secret not in caplog.text
