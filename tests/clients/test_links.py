"""LinkChecker against a real local HTTP server, with the address rule tested on its own."""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oncall.clients.links import LinkChecker, public_address
from oncall.links import LinkStatus
from oncall.models import Alert, AlertQuery
from oncall.runbook import EntryForm, Layout, Runbook
from oncall.sandbox.server import Sandbox
from oncall.settings import Settings
from oncall.sources import build_source
from tasks.alerts import fetch_alert_notes, fetch_runbook_links
from tasks.links import check_runbook_links
from tests.factories import runbook_entry


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
                answered = False
                try:
                    if self.path == "/trickle":  # headers a byte at a time, each within the read timeout
                        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                        for _ in range(40):
                            self.wfile.write(b"X")
                            self.wfile.flush()
                            time.sleep(0.1)
                        return
                    status, headers = outer.route(self.command, self.path)
                    # Out of flight before the answer leaves: the client may ask again as soon as
                    # it reads it, and must not be counted twice meanwhile.
                    with outer.lock:
                        outer.in_flight -= 1
                    answered = True
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    if not answered:
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
    entries=(runbook_entry("DiskFull", "db", path="db/DiskFull.md", form=EntryForm.FILE),),
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


def test_a_host_that_rebinds_or_answers_one_internal_address_is_never_reached(server: _Server) -> None:
    """Each connection resolves once and connects to the address it checked: a host whose next
    answer is internal (DNS rebinding, here on the redirect's hop) stops there, and a host with
    any internal address among its answers is not fetched at all."""
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        if host == "mixed.test":
            return ["127.0.0.1", "10.1.2.3"]
        return ["127.0.0.1"] if asked.count(host) == 1 else ["10.1.2.3"]

    flip, mixed = f"http://flip.test:{server.port}/moved", f"http://mixed.test:{server.port}/ok"
    found = _checker(resolve=rebinding, max_in_flight=1).check([flip, mixed], BOOK, None)
    assert found[flip].status is LinkStatus.UNVERIFIED and "10.1.2.3" in found[flip].reason
    assert found[mixed].status is LinkStatus.UNVERIFIED and "10.1.2.3" in found[mixed].reason
    assert [p for _, _, p, _ in server.seen] == ["/moved"]  # the first answer's only ask
    assert asked.count("flip.test") == 2


def test_a_slow_page_is_unverified_within_the_timeout(server: _Server) -> None:
    started = time.monotonic()
    found = _checker(timeout=0.3).check([f"http://docs.test:{server.port}/slow"], BOOK, None)
    assert next(iter(found.values())).status is LinkStatus.UNVERIFIED
    assert "no answer within 0.3 s" in next(iter(found.values())).reason
    assert time.monotonic() - started < 1.2


def test_a_trickling_server_is_given_up_on_at_the_deadline(server: _Server) -> None:
    started = time.monotonic()
    url = f"http://docs.test:{server.port}/trickle"
    found = _checker(timeout=0.3).check([url], BOOK, None)[url]
    assert found.status is LinkStatus.UNVERIFIED and "no answer within" in found.reason
    assert time.monotonic() - started < 1.5


def test_checks_in_flight_are_bounded_and_each_link_is_asked_once(server: _Server) -> None:
    urls = [f"http://docs.test:{server.port}/busy?n={n}" for n in range(8)]
    # A generous timeout: this test is about the bound, and a loaded CI machine may be slow.
    found = _checker(max_in_flight=2, timeout=10.0).check(urls + urls, BOOK, None)
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


# -- the tasks that read links and notes off the alert source ---------------------------------

AM_LINK = "https://runbooks.example.org/db/DiskFull.md"
AM_DESCRIPTION = (
    "The disk is full\nAlerts Firing:\nLabels:\n - alertname = DiskFull\nAnnotations:\n"
    f" - runbook_url = {AM_LINK}\n - summary = The disk is full\nSource: http://prometheus:9090/graph\n"
)
DETAIL_LINK = "https://wiki.example.org/QueueDepthHigh"


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        pass

    def warning(self, msg: str, *args: object) -> None:
        self.warnings.append(msg % args)


@pytest.fixture
def task_log(monkeypatch: pytest.MonkeyPatch) -> _Log:
    import tasks.alerts

    log = _Log()
    monkeypatch.setattr(tasks.alerts, "get_run_logger", lambda: log)
    return log


@pytest.fixture(scope="module")
def linked() -> Iterator[Sandbox]:
    """The seeded week, with runbook links where each vendor keeps them on three alerts, and notes."""
    sb = Sandbox.seeded()
    og = sb.state.opsgenie
    for ops in (og, sb.state.jsm.ops):
        a, b = ops.alerts[0], ops.alerts[1]
        a["description"] = AM_DESCRIPTION
        b["details"] = {**b["details"], "runbook_url": DETAIL_LINK}
        ops.set_alerts(list(ops.alerts))  # the list view is computed once; details stay out of it
        ops.alert_notes[a["id"]] = [
            {"note": "Freed space with the log rotation job", "owner": a["owner"] or "System",
             "createdAt": a["createdAt"], "offset": "n1"},
            {"note": "  ", "owner": "System", "createdAt": a["createdAt"], "offset": "n2"},
        ]  # fmt: skip
    rootly = sb.state.rootly
    r0, r1, r2 = rootly.alerts[0], rootly.alerts[1], rootly.alerts[2]
    r2["attributes"].update(data=None, description=None)  # what the list shows is all there is
    r0["attributes"]["data"] = {"alerts": [{"annotations": {"runbook_url": AM_LINK}}], "status": "firing"}
    r1["attributes"]["labels"] = [*r1["attributes"]["labels"], {"key": "runbook_url", "value": DETAIL_LINK}]
    rootly.alert_events[r0["id"]] = [
        *rootly.alert_events.get(r0["id"], []),
        {"id": f"{r0['id']}-note", "type": "alert_events",
         "attributes": {"alert_id": r0["id"], "kind": "note", "action": "added", "source": "web",
                        "details": "Restarted the exporter", "created_at": r0["attributes"]["created_at"],
                        "updated_at": r0["attributes"]["created_at"]}},
    ]  # fmt: skip
    with sb:
        yield sb


def _settings(sb: Sandbox, source: str) -> Settings:
    env = {k.removeprefix("ONCALL_").lower(): v for k, v in sb.source_env(source).items()}
    return Settings(**env, http_attempts=1, http_backoff_seconds=0, max_concurrency=2)  # type: ignore[arg-type]


def _samples(sb: Sandbox, source: str, n: int = 3) -> list[Alert]:
    with closing(build_source(_settings(sb, source))) as src:
        listed = {a.id: a for a in src.fetch_alerts(AlertQuery())}
    ids = (
        [a["id"] for a in sb.state.rootly.alerts[:n]]
        if source == "rootly"
        else [a["id"] for a in (sb.state.opsgenie if source == "opsgenie" else sb.state.jsm.ops).alerts[:n]]
    )
    return [listed[i] for i in ids]


@pytest.mark.parametrize(
    ("source", "detail_path"), [("opsgenie", "/opsgenie/v2/alerts/"), ("jsm", "/atlassian/jsm/ops/api/")]
)
def test_links_need_one_alert_read_per_sample_where_lists_lack_details(
    linked: Sandbox, task_log: _Log, source: str, detail_path: str
) -> None:
    samples = _samples(linked, source)
    assert all(s.details is None and s.description is None for s in samples)  # the list leaves them out
    mark = len(linked.app.served)
    links = fetch_runbook_links.fn(_settings(linked, source), samples + samples[:1])
    assert links == {samples[0].id: AM_LINK, samples[1].id: DETAIL_LINK}
    reads = [
        s for s in linked.app.served[mark:] if s.method == "GET" and re.search(r"/alerts/[^/]+$", s.path)
    ]
    assert sorted(r.path.rsplit("/", 1)[1] for r in reads) == sorted(s.id for s in samples)
    assert task_log.warnings == []


def test_rootly_lists_carry_the_data_so_no_alert_is_read(linked: Sandbox, task_log: _Log) -> None:
    samples = _samples(linked, "rootly")
    mark = len(linked.app.served)
    links = fetch_runbook_links.fn(_settings(linked, "rootly"), samples)
    assert links == {samples[0].id: AM_LINK, samples[1].id: DETAIL_LINK}
    assert linked.app.served[mark:] == []


def test_a_failed_detail_read_is_no_link_and_one_warning(linked: Sandbox, task_log: _Log) -> None:
    samples = _samples(linked, "opsgenie")
    for s in samples[:2]:
        linked.script(f"/opsgenie/v2/alerts/{s.id}", 503, times=5)
    try:
        links = fetch_runbook_links.fn(_settings(linked, "opsgenie"), samples)
    finally:
        linked.app.script.clear()
    assert links == {}
    assert len(task_log.warnings) == 1 and "2 of 3" in task_log.warnings[0]
    assert all(secret not in task_log.warnings[0] for secret in (linked.state.opsgenie.api_key,))


def test_samples_with_details_already_cost_nothing(linked: Sandbox, task_log: _Log) -> None:
    from tests.factories import alert

    samples = [
        alert(details={"runbook_url": AM_LINK}),
        alert(details={"severity": "page"}),
        alert(description="x"),
    ]
    mark = len(linked.app.served)
    assert fetch_runbook_links.fn(_settings(linked, "opsgenie"), samples) == {samples[0].id: AM_LINK}
    assert linked.app.served[mark:] == []


@pytest.mark.parametrize("source", ["opsgenie", "jsm", "rootly"])
def test_notes_are_what_responders_wrote_never_the_log(linked: Sandbox, task_log: _Log, source: str) -> None:
    samples = _samples(linked, source, 2)
    notes = fetch_alert_notes.fn(_settings(linked, source), [s.id for s in samples])
    want = "Restarted the exporter" if source == "rootly" else "Freed space with the log rotation job"
    assert notes == {samples[0].id: [want], samples[1].id: []}


def test_notes_that_cannot_be_read_are_none_with_one_warning(linked: Sandbox, task_log: _Log) -> None:
    samples = _samples(linked, "opsgenie", 2)
    linked.script("/opsgenie/v2/alerts/", 404, times=20)
    try:
        notes = fetch_alert_notes.fn(_settings(linked, "opsgenie"), [s.id for s in samples])
    finally:
        linked.app.script.clear()
    assert notes == {samples[0].id: [], samples[1].id: []} and len(task_log.warnings) == 1


def test_the_task_reads_other_repo_files_through_the_github_api(
    linked: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.links

    monkeypatch.setattr(tasks.links, "get_run_logger", lambda: _Log())
    repo = linked.state.runbook_repo
    linked.state.github.repo(repo).files["docs/runbooks/shared.md@main"] = "# Shared\n\n## Restart\n"
    book = Runbook(
        source=f"{repo}:docs/runbooks/oncall.md@main",
        url=f"https://github.com/{repo}/blob/main/docs/runbooks/oncall.md",
        entries=BOOK.entries,
        products=(),
        anchors={"": frozenset({"diskfull"})},
        repo=repo,
        ref="main",
        root="docs/runbooks/oncall.md",
    )
    env = {k.removeprefix("ONCALL_").lower(): v for k, v in linked.env().items()}
    settings = Settings(**env, http_attempts=1, http_backoff_seconds=0)  # type: ignore[arg-type]
    blob = f"https://github.com/{repo}/blob/main/docs/runbooks"
    urls = [f"{blob}/oncall.md#diskfull", f"{blob}/shared.md#restart", f"{blob}/gone.md", "#nope"]
    mark = len(linked.app.served)
    found = check_runbook_links.fn(settings, urls, book)
    assert [found[u].status for u in urls] == [
        LinkStatus.OK,
        LinkStatus.OK,
        LinkStatus.BROKEN,
        LinkStatus.BROKEN,
    ]
    contents = [s.path for s in linked.app.served[mark:] if "/contents/" in s.path]
    assert sorted(p.rsplit("/", 1)[1] for p in contents) == ["gone.md", "shared.md"]
