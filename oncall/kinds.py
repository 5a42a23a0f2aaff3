"""Alert titles into kinds: the same problem on another host, IP or environment is one kind.

Alertmanager titles reaching OpsGenie look like
`[Prometheus]: [FIRING:1] DiskUsageWarning mitx-production (xqwatcher filesystem /dev/root ...)`,
cut at 130 characters. Their kind is the alert name plus the label values that name *what*
is affected (the application), without environment, hosts, devices, job or severity.
Other titles keep their words, with the varying parts replaced by placeholders.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PREFIX = re.compile(r"^\s*(?:\[[^\]]{0,40}\]:?\s*)+")
_FIRING = re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\]", re.IGNORECASE)
_ALERTMANAGER = re.compile(r"^(?P<name>\S+)(?:\s+(?P<env>[^\s(]+))?\s*(?:\((?P<labels>.*?)\)?)?\s*$")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_HOST = re.compile(r"^(?:ip-\d+-\d+-\d+-\d+\S*|i-[0-9a-f]{8,}|[\w.-]*\d+\.\d+\.\d+\.\d+\S*)$")
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE)
_MIXED_ID = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Z])(?=[\w-]*[a-z])[\w-]{8,}\b")
_POD = re.compile(r"\b([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-(?:[a-f0-9]{8,10}-)?(?=[a-z]*\d)[a-z0-9]{5}\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_SEVERITIES = {"warning", "critical", "info", "error", "page", "ticket", "none"}
_TITLE_CAP = 130


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


def alert_kind(title: str) -> str:
    """The stable kind of an alert title (see the module docstring)."""
    text = " ".join(title.split())
    if _FIRING.search(text[:60]):
        body = _PREFIX.sub("", text)
        m = _ALERTMANAGER.match(body)
        if m:
            labels = (m.group("labels") or "").split()
            if len(text) >= _TITLE_CAP and labels:
                labels = labels[:-1]  # OpsGenie cut the title mid-word
            kept = [v for v in labels if not _is_variable_label(v)]
            return " ".join([m.group("name"), *kept])
    body = _PREFIX.sub("", text) if text.startswith("[") and _FIRING.search(text[:60]) else text
    body = _UUID.sub("<id>", body)
    body = _POD.sub(r"\1-<pod>", body)
    body = _IP.sub("<ip>", body)
    body = _HEX_ID.sub("<id>", body)
    body = _MIXED_ID.sub("<id>", body)
    body = _NUMBER.sub("<n>", body)
    return body.strip() or title.strip() or "(empty title)"
