"""Runbook links on alerts: where an alert says its runbook is, and whether that place exists.

Alerts routed from Prometheus carry a `runbook_url` annotation. When an alert has one, the
link decides coverage instead of heading matching: a link into the runbook's own repository
is checked against the files and heading anchors read from it; any other link is checked
over the network (oncall/clients/links.py), where only a 404 or 410 makes it broken.

Where the link sits depends on the source. Alertmanager's OpsGenie notifier sends the common
labels as `details` (annotations only when the receiver maps them there) and, by default, a
description listing each alert's annotations as ` - runbook_url = https://…` lines
(template/default.tmpl, `opsgenie.default.description`). JSM keeps OpsGenie's fields. Rootly
keeps the sender's payload in `data` (flattened to dotted keys by rootly_records) and its
labels, which read as `key:value` tags.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
import weakref
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

from oncall.errors import scrub
from oncall.models import Alert
from oncall.runbook import RUNBOOK_SUFFIXES, Layout, Runbook, RunbookEntry


class LinkStatus(StrEnum):
    OK = "ok"  # the file and anchor exist, or the page answered
    BROKEN = "broken"  # the file or anchor does not exist, or the page answered 404 or 410
    UNVERIFIED = "unverified"  # an auth wall, a login redirect, a timeout, an address never fetched


class LinkCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str  # as shown to people: credentials and secret-looking query values redacted, cut
    status: LinkStatus
    reason: str  # one line for people: what was found, or what does not exist
    entry: RunbookEntry | None = None  # the runbook entry the link points at, when it is one


MAX_URL = 2048  # longer is no runbook link anyone wrote; browsers and proxies cut there too
SHOWN = 200
# Annotation names teams use for the link, strongest first (compared without case or `_`/`-`).
_KEYS = ("runbookurl", "runbooklink", "runbook")
_LINE = re.compile(r"^[ \t]*(?:[-*•][ \t]*)?(runbook[ _-]?(?:url|link)?)[ \t]*[=:][ \t]*(\S+)", re.I | re.M)
# A markdown link's text holds no bracket and its target no space, each bounded: alert text is
# untrusted, and an unbounded `[...runbook...](...)` pattern backtracks quadratically on `[[[[`.
_MD_LINK = re.compile(rf"\[([^\[\]\n]{{0,200}})\]\((\S{{1,{MAX_URL}}}?)\)")
_RUNBOOK_WORD = re.compile(r"\brunbook\b", re.I)
_TRAILING = ".,;:!?'\"`>]*"
_SECRET_PARAM = re.compile(
    r"token|secret|passw|pwd|key|sig|signature|auth|credential|session|code|jwt|sas", re.I
)


# Spaces, controls and format characters (bidi overrides, zero-width) have no place in a link
# and would let a shown link read as another.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _visible(text: str) -> str:
    if text.isprintable():  # Python's non-printables are exactly these categories, less the space
        return text
    return "".join("?" if unicodedata.category(c) in _INVISIBLE and c != " " else c for c in text)


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.rsplit(".", 1)[-1].lower())


def clean_url(value: str) -> str | None:
    """An http(s) URL as written in an annotation, or None: other schemes, relative paths,
    spaces, control characters and absurd lengths are no link to follow."""
    text = value.strip().strip("<>\"'`").strip()
    text = text.rstrip(_TRAILING)
    unbalanced = text.count(")") - text.count("(")  # `(see https://x/a_(b))`: the last `)` is prose
    trailing = len(text) - len(text.rstrip(")"))
    if min(unbalanced, trailing) > 0:
        text = text[: len(text) - min(unbalanced, trailing)]
    if not text or len(text) > MAX_URL or any(unicodedata.category(c) in _INVISIBLE for c in text):
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return f"{scheme.lower()}://{rest}" if host else None


def runbook_url(alert: Alert) -> str | None:
    """The runbook link the alert carries: details first, then the description, then tags."""
    details = alert.details or {}
    for want in _KEYS:
        for name, value in details.items():
            if _key(name) == want and (url := clean_url(value)):
                return url
    if alert.description:
        found = {_key(m.group(1)): m.group(2) for m in reversed(list(_LINE.finditer(alert.description)))}
        for want in _KEYS:
            if want in found and (url := clean_url(found[want])):
                return url
        for m in _MD_LINK.finditer(alert.description):
            if _RUNBOOK_WORD.search(m.group(1)) and (url := clean_url(m.group(2))):
                return url
    for tag in alert.tags:
        name, sep, value = tag.partition(":")
        if sep and _key(name) in _KEYS and (url := clean_url(value)):
            return url
    return None


def redact(url: str) -> str:
    """The link as it may be shown: no userinfo, no secret-looking query values, cut short."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
        if "@" in parts.netloc:
            netloc = f"[redacted]@{netloc}"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = parts.query
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, "[redacted]" if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="[]"
            )
        shown = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        shown = url
    shown = _visible(scrub(shown))
    return shown if len(shown) <= SHOWN else shown[: SHOWN - 1] + "…"


# -- links into the runbook's repository ------------------------------------------------------


class _Web(NamedTuple):
    """Where the runbook's repository is shown: its host and port, the path before /<owner>/<repo>/
    (the sandbox's /github, or a GitHub Enterprise behind a path) and the repository."""

    host: str
    port: int | None
    prefix: tuple[str, ...]
    repo: str | None  # owner/name, lowercased


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme.lower())


def _web(book: Runbook) -> _Web:
    repo = book.repo.lower() if book.repo else None
    if not book.url:
        return _Web("github.com", 443, (), repo)
    try:
        parts = urlsplit(book.url)
        port = _port(parts.scheme, parts.port)
    except ValueError:
        return _Web("github.com", 443, (), repo)
    segs = [s for s in parts.path.split("/") if s]
    low = [s.lower() for s in segs]
    at = None
    if repo is not None:
        at = next((i for i in range(len(low) - 1) if f"{low[i]}/{low[i + 1]}" == repo), None)
    else:  # the two segments before the first /blob/ or /tree/
        at = next((i - 2 for i in range(2, len(low)) if low[i] in ("blob", "tree")), None)
        if at is None and len(segs) >= 2:
            at = 0
        repo = f"{low[at]}/{low[at + 1]}" if at is not None else None
    prefix = tuple(segs[:at]) if at else ()
    return _Web((parts.hostname or "github.com").lower(), port, prefix, repo)


def _one_file(book: Runbook) -> bool:
    return "" in book.anchors or book.root.lower().endswith(RUNBOOK_SUFFIXES)


def _normal(path: str) -> str | None:
    """A repo path with `.`/`..` resolved; None when it climbs out of the repository."""
    path = posixpath.normpath(unquote(path).lstrip("/") or ".")
    return None if path == ".." or path.startswith("../") else ("" if path == "." else path)


def _strip_ref(rest: list[str], ref: str | None) -> list[str]:
    """The path after the ref; a ref with slashes is recognised when it is the runbook's."""
    if rest[:2] == ["refs", "heads"]:
        rest = rest[2:]
    for known in (ref, "HEAD"):
        if known:
            parts = known.split("/")
            if rest[: len(parts)] == parts:
                return rest[len(parts) :]
    return rest[1:]


def repo_target(url: str, runbook: Runbook) -> tuple[str, str] | None:
    """(path in the repository, anchor) when `url` points into the runbook's repository
    (github.com or the runbook's GitHub Enterprise host, blob/tree/raw forms, or a link
    relative to the runbook), else None. Paths and anchors come URL-decoded."""
    text = url.strip()
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) and not text.startswith("//"):
        return _relative(text, runbook)
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = _port(parts.scheme, parts.port)
    except ValueError:
        return None
    web = _index(runbook).web
    repo = web.repo
    if parts.scheme.lower() not in ("http", "https") or repo is None or "@" in parts.netloc:
        return None
    segs = [s for s in parts.path.split("/") if s]
    on_web = host in (web.host, "www." + web.host) and port == web.port
    if on_web and web.prefix:
        if tuple(segs[: len(web.prefix)]) != web.prefix:
            return None
        segs = segs[len(web.prefix) :]
    if on_web and web.host != "github.com" and len(segs) >= 2 and segs[0] == "raw":
        segs, kind = segs[1:], "raw"  # GitHub Enterprise without subdomain isolation
    elif on_web:
        kind = segs[2] if len(segs) >= 3 else ("tree" if len(segs) == 2 else "")
        segs = segs[:2] + segs[3:]
    elif host == ("raw.githubusercontent.com" if web.host == "github.com" else "raw." + web.host):
        kind = "raw"
    else:
        return None
    if len(segs) < 2 or f"{segs[0]}/{segs[1]}".lower() != repo:
        return None
    if kind not in ("blob", "tree", "raw", "blame", "edit"):
        return None
    rest = segs[2:]
    path = _normal("/".join(_strip_ref(rest, runbook.ref))) if rest else ""
    if path is None:
        return None
    return path, unquote(parts.fragment)


def _relative(text: str, book: Runbook) -> tuple[str, str] | None:
    path_part, _, fragment = text.partition("#")
    root = book.root.strip("/")
    if not path_part:
        return (root, unquote(fragment)) if _one_file(book) else None
    base = posixpath.dirname(root) if _one_file(book) else root
    path = _normal(posixpath.join(base, path_part.split("?")[0]))
    return None if path is None else (path, unquote(fragment))


def runbook_key(path: str, book: Runbook) -> str | None:
    """The key of `path` in Runbook.anchors, when it is inside the runbook."""
    root = book.root.strip("/")
    if _one_file(book):
        return "" if path == root else None
    if not root:
        return path
    if path == root:
        return ""
    return path[len(root) + 1 :] if path.startswith(root + "/") else None


def known_in_runbook(path: str, runbook: Runbook) -> bool:
    """Whether `path` in the repository is a file or folder of the runbook as read, so a link
    there is checked without reading anything more."""
    key = runbook_key(path, runbook)
    if key is None:
        return False
    index = _index(runbook)
    return key == "" or key in index.anchors or key in index.folders


def _anchor(text: str) -> str:
    low = unquote(text).strip().lower()
    return low.removeprefix("user-content-")


@dataclass(frozen=True)
class _Index:
    """What every link check of one runbook reads, built once: a rule file links each of its
    alerts into the same runbook, and scanning its entries and anchors per link is quadratic."""

    anchors: dict[str, frozenset[str]]  # Runbook.anchors, lowercased (GitHub's anchors are)
    folders: frozenset[str]  # every folder above a file of the runbook, by its Runbook.anchors key
    entries: dict[tuple[str, str], list[RunbookEntry]]  # by (path, lowercased anchor; "" for a file)
    web: _Web


def _build_index(book: Runbook) -> _Index:
    folders = {posixpath.dirname(k) for k in book.anchors}
    for folder in list(folders):
        while folder:
            folder = posixpath.dirname(folder)
            folders.add(folder)
    entries: dict[tuple[str, str], list[RunbookEntry]] = {}
    files = book.layout is Layout.FILES  # a file is its entry, whichever heading the link names
    for e in book.entries:
        entries.setdefault((e.path, "" if files else e.anchor.lower()), []).append(e)
    return _Index(
        anchors={k: frozenset(a.lower() for a in v) for k, v in book.anchors.items()},
        folders=frozenset(folders - {""}),
        entries=entries,
        web=_web(book),
    )


# Runbooks are unhashable (their anchors are a dict), so the cache is keyed by id, with a weak
# reference proving the id still names the same runbook, and dropped when the runbook goes.
_INDEXES: dict[int, tuple[weakref.ref[Runbook], _Index]] = {}


def _index(book: Runbook) -> _Index:
    cached = _INDEXES.get(id(book))
    if cached is not None and cached[0]() is book:
        return cached[1]
    index = _build_index(book)
    key = id(book)

    def forget(_: weakref.ref[Runbook]) -> None:
        _INDEXES.pop(key, None)

    _INDEXES[key] = (weakref.ref(book, forget), index)
    return index


@lru_cache(maxsize=256)
def _lowered(anchors: frozenset[str]) -> frozenset[str]:
    """The anchors of a file read besides the runbook's own (the caller's mapping, not indexed)."""
    return frozenset(a.lower() for a in anchors)


def _entry(book: Runbook, key: str, anchor: str) -> RunbookEntry | None:
    found = _index(book).entries.get((key, "" if book.layout is Layout.FILES else anchor), [])
    return found[0] if len(found) == 1 else None


def check_in_repo(url: str, runbook: Runbook, anchors: dict[str, frozenset[str]]) -> LinkCheck:
    """Whether a link into the runbook's repository lands on a file and heading that exist.

    `anchors` holds heading anchors by path: the runbook's own files keyed as in
    Runbook.anchors (which is read too), other repository files by their path in the repo."""
    shown = redact(url)
    target = repo_target(url, runbook)
    if target is None:
        return LinkCheck(
            url=shown, status=LinkStatus.UNVERIFIED, reason=f"{shown} is not a link into the runbook"
        )
    path, raw_anchor = target
    anchor = _anchor(raw_anchor)
    key = runbook_key(path, runbook)
    known: frozenset[str] | None = None  # lowercased, as GitHub's anchors are
    if key is not None:
        known = _lowered(anchors[key]) if key in anchors else _index(runbook).anchors.get(key)
    if known is None and path in anchors:
        known = _lowered(anchors[path])
    where = (
        f"{runbook.repo}@{runbook.ref}" if runbook.repo and runbook.ref else (runbook.repo or "the runbook")
    )
    missing = f"the alert links to {shown}, which does not exist"
    if known is None:
        folder = path == "" or key == "" or (key is not None and key in _index(runbook).folders)
        if folder or any(p.startswith(f"{path}/") or (key and p.startswith(f"{key}/")) for p in anchors):
            return LinkCheck(
                url=shown, status=LinkStatus.OK, reason=f"the folder {path or '/'} exists in {where}"
            )
        return LinkCheck(
            url=shown, status=LinkStatus.BROKEN, reason=f"{missing}: there is no file {path} in {where}"
        )
    entry = _entry(runbook, key, anchor) if key is not None else None
    markdown = path.lower().endswith(RUNBOOK_SUFFIXES) or key == ""
    if not anchor or not markdown:  # GitHub gives heading anchors to markdown only (others: #L10 lines)
        return LinkCheck(url=shown, status=LinkStatus.OK, reason=f"the file {path} exists", entry=entry)
    if anchor not in known:
        return LinkCheck(
            url=shown,
            status=LinkStatus.BROKEN,
            reason=f"{missing}: the file {path or runbook.source} has no heading #{raw_anchor[:80]}",
        )
    return LinkCheck(
        url=shown, status=LinkStatus.OK, reason=f"the heading #{anchor} exists in {path}", entry=entry
    )
