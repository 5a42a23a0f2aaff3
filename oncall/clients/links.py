"""Checking runbook links: in the runbook's repository by what was read, elsewhere by a bounded HEAD.

A runbook link comes from alert text, which anything that can fire an alert writes. So the
network check is built as a server-side request that an attacker chooses:

- http(s) only, no credentials in the link, no token of ours ever sent (no auth header at all);
- every address a host resolves to is checked when the connection is made (`_GuardedBackend`),
  so neither a DNS answer that changes between a check and the connect nor a redirect can
  reach a private, loopback, link-local, multicast or reserved address;
- redirects are followed by hand, at most `max_redirects`, each hop checked the same way, and a
  hop to a sign-in page stops the check as unverified;
- short timeouts, no body read, a bounded number of checks in flight.

Only a 404 or 410 makes a link broken; anything that stops a look (an auth wall, a timeout,
a refused address, a 5xx) leaves it unverified, shown but never filed. GitHub answers 404
for a private repository it will not show without a token, so a 404 from a GitHub host other
than the runbook's own repository is unverified too. No Prefect import: the CLI uses this.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpcore
import httpx

from oncall.errors import OncallError
from oncall.links import (
    LinkCheck,
    LinkStatus,
    check_in_repo,
    known_in_runbook,
    redact,
    repo_target,
    runbook_key,
)
from oncall.runbook import RUNBOOK_SUFFIXES, Runbook, heading_anchors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], list[str]]
AllowAddress = Callable[[IPAddress], bool]
USER_AGENT = b"oncall-flows-runbook-link-check"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LOGIN = re.compile(
    r"log[-_]?in|log[-_]?on|sign[-_]?in|^sso$|^auth[0-9]?$|^authn?$|authenticat|authoriz|oauth|saml|openid|^cas$|^idp$|adfs"
)
_GITHUB_HOSTS = frozenset({"github.com", "www.github.com", "raw.githubusercontent.com", "gist.github.com"})


def public_address(ip: IPAddress) -> bool:
    """Whether a link check may connect to `ip`: a global unicast address, nothing internal.

    An IPv4 address inside IPv6 (mapped, 6to4, Teredo) is judged as the IPv4 it carries."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return public_address(inner)
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class RefusedAddress(httpcore.ConnectError):
    """The host resolves to an address a link check never connects to."""


class _DeadlineStream(httpcore.NetworkStream):
    """A connection that gives up at a deadline: a server sending its headers a byte at a time
    would otherwise hold a check for as long as each byte comes within the read timeout."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("the check's time ran out")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._left(timeout))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Connections made only to checked addresses: the check and the connect use one answer."""

    def __init__(self, resolve: Resolve, allow: AllowAddress, timeout: float) -> None:
        self._resolve = resolve
        self._allow = allow
        self._timeout = timeout
        self._inner = httpcore.SyncBackend()
        self._dns = ThreadPoolExecutor(4, thread_name_prefix="link-dns")

    def close(self) -> None:
        self._dns.shutdown(wait=False, cancel_futures=True)

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        try:
            found = self._dns.submit(self._resolve, host, port).result(timeout=self._timeout)
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"{host} did not resolve within {self._timeout:g} s") from None
        except OSError:
            raise httpcore.ConnectError(f"{host} does not resolve") from None
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%")[0]))
            except ValueError:
                raise httpcore.ConnectError(f"{host} resolved to {text[:40]!r}, not an address") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._addresses(host, port)
        refused = [a for a in addresses if not self._allow(a)]
        if refused:
            raise RefusedAddress(
                f"{host} resolves to {refused[0]}, a private, loopback, link-local or reserved address"
            )
        last: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
                return _DeadlineStream(stream, time.monotonic() + 2 * self._timeout)
            except httpcore.ConnectError as exc:
                last = exc
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("link checks never use unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _login_page(url: httpx.URL) -> bool:
    words = url.host.lower().split(".") + [
        w for seg in url.path.lower().split("/") for w in seg.split(".") if w
    ]
    return any(_LOGIN.search(w) for w in words if w)


class LinkChecker:
    """Checks runbook links; `resolve` and `allow_address` are the seams tests replace."""

    def __init__(
        self,
        timeout: float = 5.0,
        max_in_flight: int = 8,
        *,
        resolve: Resolve = system_resolve,
        allow_address: AllowAddress = public_address,
        max_redirects: int = 5,
    ) -> None:
        self.timeout = timeout
        self.max_in_flight = max(1, max_in_flight)
        self.max_redirects = max_redirects
        self._resolve = resolve
        self._allow = allow_address

    def check(
        self,
        urls: Iterable[str],
        runbook: Runbook,
        read_repo_file: Callable[[str], str | None] | None = None,
    ) -> dict[str, LinkCheck]:
        """What each distinct link leads to. Never raises for a link: what could not be
        looked at is unverified, with the reason."""
        distinct = list(dict.fromkeys(urls))
        repo = {u: t for u in distinct if (t := repo_target(u, runbook)) is not None}
        out = self._check_repo(repo, runbook, read_repo_file)
        web = [u for u in distinct if u not in repo]
        if web:
            backend = _GuardedBackend(self._resolve, self._allow, self.timeout)
            try:
                with (
                    httpcore.ConnectionPool(
                        ssl_context=httpx.create_ssl_context(),
                        max_connections=self.max_in_flight,
                        max_keepalive_connections=0,  # one connection per ask: its deadline is the ask's
                        network_backend=backend,
                    ) as pool,
                    ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="link") as threads,
                ):
                    for url, found in zip(
                        web, threads.map(lambda u: self._fetch(pool, u, runbook), web), strict=True
                    ):
                        out[url] = found
            finally:
                backend.close()
        return out

    # -- links into the runbook's repository ---------------------------------------------------

    def _check_repo(
        self,
        targets: dict[str, tuple[str, str]],
        runbook: Runbook,
        read_repo_file: Callable[[str], str | None] | None,
    ) -> dict[str, LinkCheck]:
        known: dict[str, frozenset[str]] = {}
        failed: dict[str, str] = {}
        unread = sorted(
            {
                path
                for path, _ in targets.values()
                if path not in known and not known_in_runbook(path, runbook)
            }
        )
        if read_repo_file is not None and unread:
            lock = threading.Lock()

            def read(path: str) -> None:
                try:
                    text = read_repo_file(path)
                except (OncallError, OSError, ValueError) as exc:  # unread is unverified, never a failed run
                    with lock:
                        failed[path] = type(exc).__name__
                    return
                if text is not None:
                    anchors = (
                        heading_anchors(text) if path.lower().endswith(RUNBOOK_SUFFIXES) else frozenset()
                    )
                    with lock:
                        known[path] = anchors

            with ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="link-repo") as pool:
                list(pool.map(read, unread))
        out = {}
        for url, (path, _) in targets.items():
            shown = redact(url)
            if path in failed:
                reason = f"{shown}: {path} could not be read from the repository ({failed[path]})"
                out[url] = LinkCheck(url=shown, status=LinkStatus.UNVERIFIED, reason=reason)
                continue
            found = check_in_repo(url, runbook, known)
            if found.status is LinkStatus.BROKEN and path in unread and path not in known:
                inside = runbook_key(path, runbook) is not None and path.lower().endswith(RUNBOOK_SUFFIXES)
                folder = "/tree/" in url or url.split("#")[0].endswith("/")
                if folder or (read_repo_file is None and not inside):
                    reason = f"{shown}: {path} is outside what was read of the runbook, so it was not checked"
                    found = LinkCheck(url=shown, status=LinkStatus.UNVERIFIED, reason=reason)
            out[url] = found
        return out

    # -- links anywhere else -------------------------------------------------------------------

    def _fetch(self, pool: httpcore.ConnectionPool, url: str, runbook: Runbook) -> LinkCheck:
        shown = redact(url)

        def unverified(why: str) -> LinkCheck:
            return LinkCheck(url=shown, status=LinkStatus.UNVERIFIED, reason=f"{shown}: {why}")

        if len(url) > 2048:
            return unverified("not fetched: longer than any runbook link")
        if not re.match(r"(?i)https?://", url.strip()):
            return unverified("not fetched: only http(s) links are checked")
        try:
            current = httpx.URL(url.strip())
        except (httpx.InvalidURL, UnicodeError, ValueError):
            return unverified("not fetched: not a valid link")
        if current.userinfo:
            return unverified("not fetched: the link carries credentials")
        if not current.host:
            return unverified("not fetched: the link has no host")
        try:
            for _ in range(self.max_redirects + 1):
                status, location = self._ask(pool, current)
                if status in REDIRECTS and location:
                    nxt = current.join(location)
                    if nxt.scheme not in ("http", "https") or nxt.userinfo or not nxt.host:
                        return unverified(f"redirects to {redact(str(nxt))}, which is not checked")
                    if _login_page(nxt):
                        return unverified(f"redirects to a sign-in page on {nxt.host}; behind a login")
                    current = nxt
                    continue
                return self._classify(status, current, shown, runbook)
        except RefusedAddress as exc:
            return unverified(f"not fetched: {exc}")
        except httpcore.TimeoutException:
            return unverified(f"no answer within {self.timeout:g} s")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            return unverified(f"could not connect ({type(exc).__name__})")
        except (httpx.InvalidURL, UnicodeError, ValueError):
            return unverified("not fetched: a redirect led to an invalid link")
        return unverified(f"more than {self.max_redirects} redirects")

    def _ask(self, pool: httpcore.ConnectionPool, url: httpx.URL) -> tuple[int, str | None]:
        """A HEAD, then a GET (headers only) when the server refuses HEAD."""
        for method in ("HEAD", "GET"):
            with pool.stream(
                method,
                httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
                headers=[(b"Host", url.netloc), (b"User-Agent", USER_AGENT), (b"Accept", b"*/*")],
                extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), self.timeout)},
            ) as response:
                location = next(
                    (v.decode("latin-1") for k, v in response.headers if k.lower() == b"location"), None
                )
                if method == "HEAD" and response.status in (405, 501):
                    continue
                return response.status, location
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _classify(status: int, final: httpx.URL, shown: str, runbook: Runbook) -> LinkCheck:
        def result(state: LinkStatus, why: str) -> LinkCheck:
            return LinkCheck(url=shown, status=state, reason=why)

        if 200 <= status < 300:
            return result(LinkStatus.OK, f"{shown}: the page answered {status}")
        github = set(_GITHUB_HOSTS)
        if runbook.url:
            github.add(httpx.URL(runbook.url).host)
        if status in (404, 410) and final.host.lower() in github:
            return result(
                LinkStatus.UNVERIFIED,
                f"{shown}: GitHub answered {status}, as it does for a private repository without a token",
            )
        if status in (404, 410):
            return result(
                LinkStatus.BROKEN,
                f"the alert links to {shown}, which does not exist (the page answered {status})",
            )
        if status in (401, 403, 407):
            return result(LinkStatus.UNVERIFIED, f"{shown}: behind an auth wall (the page answered {status})")
        if status >= 500:
            return result(LinkStatus.UNVERIFIED, f"{shown}: the server answered {status}")
        return result(LinkStatus.UNVERIFIED, f"{shown}: the page answered {status}")
