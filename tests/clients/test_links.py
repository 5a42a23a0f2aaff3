"""LinkChecker against a real local HTTP server, with the address rule tested on its own."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oncall.clients.links import LinkChecker, public_address
from oncall.links import LinkStatus
from oncall.runbook import EntryForm, Layout, Runbook, RunbookEntry


class _Httpd(ThreadingHTTPServer):
    request_queue_size = 64  # the default 5 drops connects a burst of checks makes
    daemon_threads = True
    block_on_close = False  # a handler still sleeping past a check's timeout is not waited for


class _Server:
    """Routes by path; records every request (method, host, path, headers) and the most in flight."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict[str, str]]] = []
        self.in_flight = 0
        self.most = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                with outer.lock:
                    outer.seen.append(
                        (self.command, self.headers.get("Host", ""), self.path, dict(self.headers))
                    )
                    outer.in_flight += 1
                    outer.most = max(outer.most, outer.in_flight)
                try:
                    status, headers = outer.route(self.command, self.path)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            do_HEAD = _answer
            do_GET = _answer

        self.httpd = _Httpd(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def route(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        p = path.split("?")[0]
        if p == "/ok":
            return 200, {}
        if p in ("/missing", "/gone"):
            return (404 if p == "/missing" else 410), {}
        if p == "/nohead":
            return (405 if method == "HEAD" else 200), {}
        if p == "/nohead-missing":
            return (501 if method == "HEAD" else 404), {}
        if p in ("/auth", "/forbidden"):
            return (401 if p == "/auth" else 403), {}
        if p == "/boom":
            return 503, {}
        if p == "/moved":
            return 301, {"Location": "/ok"}
        if p == "/moved-away":
            return 302, {"Location": f"http://docs.test:{self.port}/missing"}
        if p == "/to-login":
            return 302, {"Location": f"http://sso.corp.test:{self.port}/start?next=/rb"}
        if p == "/to-signin-path":
            return 302, {"Location": "/users/sign_in"}
        if p == "/to-internal":
            return 302, {"Location": f"http://internal.test:{self.port}/ok"}
        if p == "/to-metadata":
            return 307, {"Location": "http://169.254.169.254/latest/meta-data/"}
        if p == "/to-file":
            return 302, {"Location": "file:///etc/passwd"}
        if p.startswith("/loop"):
            return 302, {"Location": f"/loop{len(p)}"}
        if p == "/slow":
            time.sleep(1.5)
            return 200, {}
        if p == "/busy":
            time.sleep(0.2)
            return 200, {}
        return 404, {}

    def __enter__(self) -> _Server:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    with _Server() as s:
        yield s


HOSTS = {"docs.test": "127.0.0.1", "sso.corp.test": "127.0.0.1", "internal.test": "10.1.2.3"}


def _resolve(host: str, port: int) -> list[str]:
    if host not in HOSTS:
        raise OSError(f"{host} does not resolve")
    return [HOSTS[host]]


def _loopback_allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The local server is on 127.0.0.1: the test lets that one in and keeps the rest of the rule."""
    return str(ip) == "127.0.0.1" or public_address(ip)


def _checker(**kw: object) -> LinkChecker:
    options: dict[str, object] = {
        "timeout": 1.0,
        "resolve": _resolve,
        "allow_address": _loopback_allowed,
        **kw,
    }
    return LinkChecker(**options)  # type: ignore[arg-type]


BOOK = Runbook(
    source="acme/runbooks:alerts@main",
    url="https://github.com/acme/runbooks/tree/main/alerts",
    entries=(
        RunbookEntry(
            title="DiskFull",
            product="db",
            line=1,
            anchor="",
            path="db/DiskFull.md",
            form=EntryForm.FILE,
            has_diagnosis=True,
            has_mitigation=True,
            stub=False,
        ),
    ),
    products=("db",),
    layout=Layout.FILES,
    anchors={"db/DiskFull.md": frozenset({"diskfull", "mitigation"})},
    repo="acme/runbooks",
    ref="main",
    root="alerts",
)


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "10.0.0.8", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",  # noqa: S104
     "224.0.0.1", "240.0.0.1", "::1", "fc00::1", "fe80::1", "ff02::1", "::", "::ffff:127.0.0.1",
     "::ffff:10.0.0.1", "2002:7f00:1::"],
)  # fmt: skip
def test_internal_addresses_are_refused_by_default(ip: str) -> None:
    assert not public_address(ipaddress.ip_address(ip))


def test_public_addresses_are_allowed() -> None:
    for ip in ("93.184.215.14", "140.82.112.3", "2606:4700:4700::1111"):
        assert public_address(ipaddress.ip_address(ip)), ip


def test_the_default_checker_never_reaches_the_local_server(server: _Server) -> None:
    urls = [
        f"http://127.0.0.1:{server.port}/ok",
        f"http://[::1]:{server.port}/ok",
        f"http://2130706433:{server.port}/ok",  # 127.0.0.1 as one decimal number
        f"http://localhost:{server.port}/ok",
    ]
    found = LinkChecker(timeout=1.0).check(urls, BOOK, None)
    assert {f.status for f in found.values()} == {LinkStatus.UNVERIFIED}
    assert all("not fetched" in f.reason or "could not connect" in f.reason for f in found.values())
    assert server.seen == []


def test_answers_map_to_ok_broken_and_unverified(server: _Server) -> None:
    base = f"http://docs.test:{server.port}"
    want = {
        "/ok": LinkStatus.OK,
        "/missing": LinkStatus.BROKEN,
        "/gone": LinkStatus.BROKEN,
        "/nohead": LinkStatus.OK,
        "/nohead-missing": LinkStatus.BROKEN,
        "/auth": LinkStatus.UNVERIFIED,
        "/forbidden": LinkStatus.UNVERIFIED,
        "/boom": LinkStatus.UNVERIFIED,
        "/moved": LinkStatus.OK,
        "/moved-away": LinkStatus.BROKEN,
        "/to-login": LinkStatus.UNVERIFIED,
        "/to-signin-path": LinkStatus.UNVERIFIED,
        "/loop": LinkStatus.UNVERIFIED,
    }
    found = _checker().check([base + p for p in want], BOOK, None)
    assert {p: found[base + p].status for p in want} == want
    assert (
        found[base + "/missing"].reason
        == f"the alert links to {base}/missing, which does not exist (the page answered 404)"
    )
    assert "sign-in page on sso.corp.test" in found[base + "/to-login"].reason
    assert "401" in found[base + "/auth"].reason and "503" in found[base + "/boom"].reason
    assert "more than 5 redirects" in found[base + "/loop"].reason
    assert sum(1 for s in server.seen if s[2].startswith("/loop")) == 6  # the first ask and five hops
    # GET only where HEAD was refused; every request named the link's own host and sent no credentials
    assert [m for m, _, p, _ in server.seen if p == "/nohead"] == ["HEAD", "GET"]
    assert [m for m, _, p, _ in server.seen if p == "/ok"] == ["HEAD", "HEAD"]  # /ok, and /moved's hop
    assert all(h == f"docs.test:{server.port}" for _, h, p, _ in server.seen if not p.startswith("/start"))
    assert not any("Authorization" in hd or "Cookie" in hd for *_, hd in server.seen)


def test_every_redirect_hop_is_checked_after_resolution(server: _Server) -> None:
    base = f"http://docs.test:{server.port}"
    found = _checker().check([f"{base}/to-internal", f"{base}/to-metadata", f"{base}/to-file"], BOOK, None)
    internal = found[f"{base}/to-internal"]
    assert internal.status is LinkStatus.UNVERIFIED and "10.1.2.3" in internal.reason
    assert found[f"{base}/to-metadata"].status is LinkStatus.UNVERIFIED
    assert "169.254.169.254" in found[f"{base}/to-metadata"].reason
    assert found[f"{base}/to-file"].status is LinkStatus.UNVERIFIED
    assert sorted(p for _, _, p, _ in server.seen) == [
        "/to-file",
        "/to-internal",
        "/to-metadata",
    ]  # no hop fetched


def test_a_slow_page_is_unverified_within_the_timeout(server: _Server) -> None:
    started = time.monotonic()
    found = _checker(timeout=0.3).check([f"http://docs.test:{server.port}/slow"], BOOK, None)
    assert next(iter(found.values())).status is LinkStatus.UNVERIFIED
    assert "no answer within 0.3 s" in next(iter(found.values())).reason
    assert time.monotonic() - started < 1.2


def test_checks_in_flight_are_bounded_and_each_link_is_asked_once(server: _Server) -> None:
    urls = [f"http://docs.test:{server.port}/busy?n={n}" for n in range(8)]
    found = _checker(max_in_flight=2).check(urls + urls, BOOK, None)
    assert len(found) == 8 and {f.status for f in found.values()} == {LinkStatus.OK}
    assert len(server.seen) == 8 and server.most <= 2


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "ftp://docs.test/runbook",
        "https://ops:hunter2secret@docs.test/rb",
        "https://docs.test/" + "a" * 5000,
        "https://xn--80ak6aa92e.com:99999/",
        "http://unknown-host.test/rb",
    ],
)
def test_hostile_links_are_unverified_and_never_fetched(server: _Server, url: str) -> None:
    found = _checker().check([url], BOOK, None)[url]
    assert found.status is LinkStatus.UNVERIFIED
    assert "hunter2secret" not in found.reason + found.url and len(found.reason) < 400
    assert server.seen == []


def test_an_idn_host_is_resolved_by_its_ascii_form(server: _Server) -> None:
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    url = f"http://bücher.test:{server.port}/ok"
    assert _checker(resolve=resolve).check([url], BOOK, None)[url].status is LinkStatus.OK
    assert asked == ["xn--bcher-kva.test"]


def test_secret_query_values_never_reach_a_reason(server: _Server) -> None:
    url = f"http://docs.test:{server.port}/missing?token=s3cr3t-t0ken-value"
    found = _checker().check([url], BOOK, None)[url]
    assert found.status is LinkStatus.BROKEN and "s3cr3t-t0ken-value" not in found.reason + found.url


def test_repo_links_are_checked_by_what_was_read_and_never_fetched(server: _Server) -> None:
    reads: list[str] = []
    files = {"docs/shared.md": "# Shared\n\n## Restart the pool\n", "alerts/db/README.md": "# Databases\n"}

    def read(path: str) -> str | None:
        reads.append(path)
        return files.get(path)

    blob = "https://github.com/acme/runbooks/blob/main"
    urls = [
        f"{blob}/alerts/db/DiskFull.md#mitigation",
        f"{blob}/alerts/db/DiskFull.md#recovery",
        f"{blob}/alerts/db/DiskGone.md",
        f"{blob}/docs/shared.md#restart-the-pool",
        f"{blob}/docs/shared.md#nope",
        f"{blob}/docs/missing.md",
        f"{blob}/alerts/db/README.md#databases",
        "db/DiskFull.md#mitigation",
    ]
    found = LinkChecker(timeout=1.0).check(urls, BOOK, read)
    assert [found[u].status for u in urls] == [
        LinkStatus.OK,
        LinkStatus.BROKEN,
        LinkStatus.BROKEN,
        LinkStatus.OK,
        LinkStatus.BROKEN,
        LinkStatus.BROKEN,
        LinkStatus.OK,
        LinkStatus.OK,
    ]
    entry = found[urls[0]].entry
    assert entry is not None and entry.path == "db/DiskFull.md"
    assert sorted(reads) == [
        "alerts/db/DiskGone.md",
        "alerts/db/README.md",
        "docs/missing.md",
        "docs/shared.md",
    ]
    assert server.seen == []


def test_without_a_reader_links_outside_the_runbook_are_unverified() -> None:
    outside = "https://github.com/acme/runbooks/blob/main/docs/shared.md"
    inside = "https://github.com/acme/runbooks/blob/main/alerts/db/DiskGone.md"
    found = LinkChecker(timeout=1.0).check([outside, inside], BOOK, None)
    assert found[outside].status is LinkStatus.UNVERIFIED
    assert found[inside].status is LinkStatus.BROKEN  # every markdown file under the root was read


def test_a_reader_that_fails_leaves_the_link_unverified() -> None:
    def read(path: str) -> str | None:
        raise TimeoutError("github did not answer")

    url = "https://github.com/acme/runbooks/blob/main/docs/shared.md"
    found = LinkChecker(timeout=1.0).check([url], BOOK, read)[url]
    assert found.status is LinkStatus.UNVERIFIED and "TimeoutError" in found.reason


def test_a_404_from_github_for_another_repository_is_unverified(server: _Server) -> None:
    def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    url = f"http://github.com:{server.port}/missing"
    found = _checker(resolve=resolve).check([url], BOOK, None)[url]
    assert found.status is LinkStatus.UNVERIFIED and "private repository" in found.reason
