"""Alert titles into kinds: the same problem on another host, IP, pod or environment is one kind.

Alertmanager titles reaching OpsGenie look like
`[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ...)`,
cut at 130 characters (`TITLE_CAP`). Their kind is the alert name, kept whole, plus the label
values that name *what* is affected (the application), without environment, hosts, devices, job
or severity, and with generated pod suffixes and ordinals replaced as anywhere else. The words
before the parentheses are the route's group_by values in label-name order: with one after the
alertname it is the environment slot; with more, the one an environment word names (`prod`,
`apps-qa`) is. Other titles keep their words (without a `[FIRING:n]` prefix), with the varying
parts replaced by placeholders.

`title_parts` is the one reading of a title's shape; matching (oncall/coverage.py) uses it too,
so both agree on where the alert name, the environment slot and a cut word are.

An alert name is never an id. A token with digits and mixed case is an id only when its
letters are mostly short random runs (`fmT0KbL5X`); a CamelCase name is made of word-like
segments (`APISIXEdge5xxRateFast` is APISIX, Edge, 5xx, Rate, Fast).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

TITLE_CAP = 130  # OpsGenie cuts a message here; the last word of a title this long is partial

_PREFIX = re.compile(r"^\s*(?:\[[^\]]{0,40}\]:?\s*)+")
_FIRING = re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\]", re.IGNORECASE)
_COPIED = re.compile(r"^(?P<name>\S+)\s+(?P<env>[^\s()\[\]]+)\s+\((?P<labels>.*?)\)?\s*$")
_BRACKETED = re.compile(r"^(?P<name>[^\s()\[\]]+)\s*(?:\[(?P<sq>.*?)\]?|\((?P<par>.*?)\)?)\s*$")
_ALERTNAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")  # Prometheus refuses other alert names
_ENV = re.compile(
    r"(?:^|[-_.])(?:prod|production|prd|staging|stage|stg|qa|rc|dev|development|test|testing|uat|"
    r"preprod|nonprod|sandbox|ci|demo|perf|live)$",
    re.IGNORECASE,
)
_IDENTIFIER = re.compile(r"^[A-Za-z][\w.:-]*[A-Za-z0-9]$|^[A-Za-z]$")
_NAMED = re.compile(r"[a-z0-9][A-Z]|_|[A-Z]{2,}[a-z]")  # CamelCase or snake_case: an identifier, not a word
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_HOST = re.compile(r"^(?:ip-\d+-\d+-\d+-\d+\S*|i-[0-9a-f]{8,}|[\w.-]*\d+\.\d+\.\d+\.\d+\S*)$")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE)
# Both stay linear on a long hyphenated token (`a-a-a-…`: 16,000 characters took a minute):
# an id's letters and digits are looked for within a Kubernetes name's length (253) of where it
# starts, and a pod name has at most a dozen segments.
_MIXED = re.compile(r"\b(?<!\w-)(?=[\w-]{0,253}\d)(?=[\w-]{0,253}[A-Z])(?=[\w-]{0,253}[a-z])[\w-]{8,}\b")
_HASH = r"(?:[a-f0-9]{8,10}|[b-df-hj-np-tv-z2456789]{8,10})"  # a ReplicaSet's pod-template-hash
_GENERATED = (
    rf"(?:{_HASH}-[a-z0-9]{{5}}|(?=[a-z]*\d)[a-z0-9]{{5}})"  # what a pod's name adds to its workload's
)
_POD = re.compile(rf"\b([a-z][a-z0-9]*(?:-[a-z0-9]+){{0,12}}?)-{_GENERATED}\b")
_REPLICASET = re.compile(rf"^([a-z][a-z0-9-]*?[a-z0-9])-{_GENERATED}$")
_CRONJOB = re.compile(r"^([a-z][a-z0-9-]*?[a-z0-9])-\d{8,10}(?:-[a-z0-9]{5})?$")  # a CronJob's job and pod
_ORDINAL = re.compile(r"^([a-z][a-z0-9-]*?[a-z])-\d{1,3}$")
_PORT = re.compile(r":\d{2,5}$")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_SEGMENT = re.compile(r"IPv(?=\d)|[A-Z]{2,}(?=[A-Z][a-z]|[^A-Za-z]|$)|[A-Z]?[a-z]+|[A-Z]|\d+|[^A-Za-z\d]+")
_VOWEL = re.compile("[aeiouy]", re.IGNORECASE)
_CONSONANTS = re.compile("[^aeiouy]{5}")
_SHORTHAND = frozenset(
    [
        "http",
        "https",
        "dns",
        "tls",
        "ssl",
        "ssh",
        "tcp",
        "udp",
        "grpc",
        "rpc",
        "sql",
        "xml",
        "pvc",
        "crd",
        "cdn",
        "nfs",
        "smtp",
        "ntp",
        "vpn",
        "rds",
        "sqs",
        "sns",
        "jvm",
        "gc",
        "db",
        "cpu",
        "gpu",
        "api",
        "tsdb",
    ]
)  # vowel-less segments that names are made of
_UNITS = frozenset(
    ["x", "xx", "s", "ms", "m", "h", "d", "k", "th", "st", "nd", "rd"]
)  # after a number: 5xx, 30s, k8s, 99th
_SEVERITIES = {"warning", "critical", "info", "error", "page", "ticket", "none"}


class Shape(StrEnum):
    """What a title looks like, which decides where its alert name and environment are."""

    ALERTMANAGER = "alertmanager"  # [FIRING:n] Name env (labels)
    COPIED = "copied"  # Name env (labels): a heading copied from such a title, without its prefix
    BRACKETED = "bracketed"  # Name [labels] or Name (labels): Rootly, JSM and decorated headings
    BARE = "bare"  # one identifier-like token: the alert name alone
    TEXT = "text"  # free text


class TitleParts(NamedTuple):
    text: str  # whitespace collapsed
    body: str  # `text` without source prefixes such as `[Prometheus]: [FIRING:1]`
    cut: bool  # OpsGenie cut it: its last word is partial
    shape: Shape
    name: str | None  # the alert name, kept whole
    env: str | None  # the environment slot (the word after an Alertmanager alertname)
    labels: tuple[str, ...]  # label values; the cut last one left out


def is_id(token: str) -> bool:
    """Whether a token with digits and mixed case is a generated id rather than a name.

    A name's letters are word-like segments (`Edge`, `Rate`, `Http`), acronyms (`APISIX`,
    `OCW`), a capital before a number (`S3`, `K8s`) or a unit after one (`5xx`, `30s`), with
    at most two numbers. Random ids fail on a lone capital, a vowel-less run or too many
    numbers; about 2% of random 8-12 character ids still pass (tests/core/test_kinds.py).
    """
    if not _MIXED.fullmatch(token):
        return False
    segments = _SEGMENT.findall(token)
    if sum(s[0].isdigit() for s in segments) > 2:
        return True
    words = acronyms = vowels = longest = 0
    for i, s in enumerate(segments):
        before = segments[i - 1] if i else ""
        after = segments[i + 1] if i + 1 < len(segments) else ""
        low = s.lower()
        if s[0].isdigit() or not s[0].isalnum() or (before[:1].isdigit() and low in _UNITS):
            continue
        if s == "IPv" or (s.isupper() and 2 <= len(s) <= 6):
            acronyms += len(s)
        elif len(s) == 1 and s.isupper() and after[:1].isdigit():
            acronyms += 1
        elif low in _SHORTHAND or (len(s) >= 2 and _VOWEL.search(s) and not _CONSONANTS.search(low)):
            words += len(s)
            vowels += len(s) // 2 if low in _SHORTHAND else len(_VOWEL.findall(s))
            longest = max(longest, len(s))
        else:
            return True
    return not (words >= 4 and words >= acronyms and longest >= 4 and vowels >= 0.2 * words)


@lru_cache(maxsize=65_536)
def _names_it(token: str) -> bool:
    """Whether a lone token can be an alert name: identifier-shaped, with nothing varying in it."""
    return bool(_IDENTIFIER.match(token)) and _placeholders(token) == token and not _HOST.match(token)


def _firing(text: str) -> bool:
    return "[" in text[:60] and bool(_FIRING.search(text[:60]))


def one_line(title: str) -> str:
    """The title normalised: each run of whitespace (a newline, tabs, doubled spaces) one space.
    The one normaliser: kinds, matching, the COE document's name and the CLI's tables read a
    title through it, so they never disagree about what a title says."""
    return " ".join(title.split())


@lru_cache(maxsize=65_536)
def title_parts(title: str) -> TitleParts:
    """The one reading of a title's shape, for kinds and for matching."""
    text = one_line(title)
    cut = len(title) >= TITLE_CAP
    body = _PREFIX.sub("", text) if text.startswith("[") else text
    firing = _firing(text)
    head, paren, rest = body.partition("(")
    words = head.split()
    listed = tuple(rest.removesuffix(")").split()[: -1 if cut else None])  # its `)` gone when cut
    named = len(words) > 2 and bool(_ALERTNAME.fullmatch(words[0]) and _NAMED.search(words[0]))
    if firing:  # Name [group values...] [(labels...)]
        if 1 <= len(words) <= 2:
            env = words[1] if len(words) == 2 else None
            return TitleParts(text, body, cut, Shape.ALERTMANAGER, words[0], env, listed)
        if not words and listed and _ALERTNAME.fullmatch(listed[0]):  # group_by []: all in the list
            env, others = _grouped(listed[1:])
            return TitleParts(text, body, cut, Shape.ALERTMANAGER, listed[0], env, others)
        if named:
            env, group = _grouped(tuple(words[1:-1] if cut and not paren else words[1:]))
            return TitleParts(text, body, cut, Shape.ALERTMANAGER, words[0], env, group + listed)
    m = _COPIED.match(body) if paren else None
    if m is not None and _NAMED.search(m.group("name")):
        return TitleParts(text, body, cut, Shape.COPIED, m.group("name"), m.group("env"), listed)
    if paren and named:  # copied from a title grouped by more labels
        env, group = _grouped(tuple(words[1:]))
        return TitleParts(text, body, cut, Shape.COPIED, words[0], env, group + listed)
    b = _BRACKETED.match(body) if "(" in body or "[" in body else None
    if b is not None and _names_it(b.group("name")):
        inner = b.group("sq") if b.group("sq") is not None else b.group("par") or ""
        labels = tuple(v for v in re.split(r"[\s,;]+", inner) if v)[: -1 if cut else None]
        return TitleParts(text, body, cut, Shape.BRACKETED, b.group("name"), None, labels)
    if " " not in body and body and _names_it(body) and not cut:
        return TitleParts(text, body, cut, Shape.BARE, body, None, ())
    return TitleParts(text, body, cut, Shape.TEXT, None, None, ())


def _grouped(values: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """The environment among a title's group label values, and the others. With more than one
    value after the alertname, the environment is the value an environment word names
    (`prod`, `apps-qa`); Alertmanager sorts the values by label name, so no position tells."""
    at = next((i for i, v in enumerate(values) if _ENV.search(v)), None)
    if at is None:
        return None, values
    return values[at], values[:at] + values[at + 1 :]


def alert_name(title: str) -> str | None:
    """The Alertmanager alertname of a title (after `[FIRING:n]`), a lone identifier-like title
    itself, or the name before a label list; None for free text."""
    return title_parts(title).name


@lru_cache(maxsize=65_536)
def workload(value: str) -> str:
    """A pod, job or instance name without what Kubernetes or a port adds to it: the
    ReplicaSet hash and pod suffix, a CronJob's schedule time, a StatefulSet ordinal, `:9100`."""
    if "-" not in value and ":" not in value:
        return value
    value = _PORT.sub("", value)
    for pattern in (_REPLICASET, _CRONJOB, _ORDINAL):
        m = pattern.match(value)
        if m:
            return m.group(1)
    return value


def _id_or_keep(m: re.Match[str]) -> str:
    return "<id>" if is_id(m.group(0)) else m.group(0)


def _placeholders(text: str) -> str:
    text = _UUID.sub("<id>", text)
    text = _POD.sub(r"\1-<pod>", text)
    text = _IP.sub("<ip>", text)
    text = _HEX_ID.sub("<id>", text)
    text = _MIXED.sub(_id_or_keep, text)
    return _NUMBER.sub("<n>", text)


@lru_cache(maxsize=65_536)
def _is_variable_label(value: str) -> bool:
    return (
        bool(_HOST.match(value) or _IP.search(value))
        or value.startswith("/")
        or "/" in value
        or value.lower() in _SEVERITIES
        or value.isdigit()
        or value in {"true", "false"}
    )


@lru_cache(maxsize=1 << 16)
def alert_kind(title: str) -> str:
    """The stable kind of an alert title (see the module docstring). Cached: a window repeats
    its titles, and the hand-off, ops-review's findings, costs and charts each group the same
    alerts, so each title is read once a process (64k titles, a few MB at most)."""
    parts = title_parts(title)
    if parts.shape is Shape.ALERTMANAGER and parts.name:
        kept = [_placeholders(v) for v in parts.labels if not _is_variable_label(v)]
        return " ".join([parts.name, *kept])
    body = _placeholders(
        parts.body if _firing(parts.text) else parts.text
    )  # `[Pingdom]` names the check; keep it
    return body.strip() or title.strip() or "(empty title)"
