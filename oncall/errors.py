"""One exception tree for the whole product.

Every message names the thing that failed (alert id, schedule, setting) and what to do
about it. Secrets never appear in a message: clients build messages from setting *names*, and
vendor text (an error page may echo the request path, such as a Slack webhook's) passes
through `scrub`, which removes every secret a client or the settings registered with
`remember_secret`, in each form it can be echoed in.

    OncallError
    ├── ConfigError            a setting is missing or invalid; names the setting
    ├── InputError             a parameter or input file is unusable (bad window, bad runbook)
    ├── LockedError            another run kept the flow's lock past the wait; names the lock
    └── OutsideError           an outside system failed; carries `system` and `status`
        ├── AuthError          401/403: names the credential setting to fix
        ├── NotFoundError      404: names the id and where it was looked up
        ├── RateLimitedError   429 still returned after the retry budget ran out
        ├── UnavailableError   5xx, timeouts, connection errors after the retry budget
        │   └── UncertainError a write was sent and its answer lost: it may have happened
        ├── RejectedError      other 4xx: the vendor's own message is kept
        │   └── ConflictError  a write refused as the thing changed since it was read
        ├── NotAvailableError  the source does not offer this (plan, product or setting)
        └── MalformedError     a response or record did not have the vendor's shape
"""

from __future__ import annotations

import base64
import html
import re
import threading
from collections import OrderedDict
from typing import ClassVar
from urllib.parse import quote, urlsplit

REDACTED = "[redacted]"
# A shorter secret (or part of one, such as a URL's path) is not scrubbed: replacing it would
# blank ordinary words, and an empty one would match everywhere. Every credential a client sends
# (API keys, tokens, webhook URLs, key files) is longer.
_SHORTEST = 8
_MOST = 256  # secrets kept, the longest unused dropped first: a process meeting ever new ones stays small
_SEGMENT = 16  # a URL path segment this long is a secret on its own (Slack's last one is 24)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")  # a whole secret that is one URL, not a key file


class _Secrets:
    lock = threading.Lock()
    known: ClassVar[OrderedDict[tuple[str, str | None], frozenset[str]]] = OrderedDict()  # least recent first
    forms: frozenset[str] = frozenset()
    lowered: tuple[str, ...] = ()  # the forms lower-cased, for scrub's quick look
    pattern: re.Pattern[str] | None = None  # built on the first scrub that needs it


def _forms(secret: str) -> set[str]:
    """The ways `secret` can come back in an error: as is, percent-encoded, JSON- or
    HTML-escaped, line by line (a key file), and for a URL its path and long path segments."""
    parts = {secret, *re.split(r"\n|\\n", secret)}
    url = urlsplit(secret.strip()) if _URL.fullmatch(secret.strip()) else None
    if url and url.path.strip("/"):
        parts |= {
            url.path,
            url.path.strip("/"),
            *(seg for seg in url.path.split("/") if len(seg) >= _SEGMENT),
        }
        if url.query:
            parts.add(f"{url.path}?{url.query}")
    out: set[str] = set()
    for part in parts:
        part = part.strip()
        if len(part) < _SHORTEST:
            continue
        out |= {part, quote(part, safe=""), quote(part), part.replace("/", "\\/"), html.escape(part)}
    return out


def remember_secret(secret: str, *, user: str | None = None) -> None:
    """Register a secret (with `user`, also its Basic credential) for `scrub`. Idempotent and
    cheap when repeated, as every client and `Settings.require` call it; safe from any thread."""
    key = (secret, user)
    with _Secrets.lock:
        if key in _Secrets.known:
            _Secrets.known.move_to_end(key)
            return
    found = _forms(secret)
    if user is not None:
        pair = f"{user}:{secret}"
        found |= _forms(pair) | _forms(base64.b64encode(pair.encode()).decode())
    with _Secrets.lock:
        _Secrets.known[key] = frozenset(found)
        while len(_Secrets.known) > _MOST:
            _Secrets.known.popitem(last=False)
        forms = frozenset().union(*_Secrets.known.values())
        if forms != _Secrets.forms:
            _Secrets.forms, _Secrets.pattern = forms, None
            _Secrets.lowered = tuple({f.lower() for f in forms})


def _pattern() -> re.Pattern[str]:
    with _Secrets.lock:
        if _Secrets.pattern is None:
            # Longest first, so a URL goes before its own path; case-insensitive for %2f and %2F.
            forms = sorted(_Secrets.forms, key=len, reverse=True)
            _Secrets.pattern = re.compile("|".join(map(re.escape, forms)), re.IGNORECASE)
        return _Secrets.pattern


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `[redacted]`. Call it on vendor text
    before cutting it short, or a cut could keep a secret's beginning.

    Cheap when there is nothing to scrub (most error text): ASCII text that holds no form, in
    any case, is returned after a substring look per form. A case-insensitive regex over many
    alternatives costs milliseconds per page, so it is built and run only when one may match."""
    lowered = _Secrets.lowered
    if not lowered:
        return text
    if text.isascii():
        low = text.lower()
        if not any(form in low for form in lowered):
            return text
    return _pattern().sub(REDACTED, text)


class OncallError(Exception):
    """Base of every error this product raises on purpose."""


class ConfigError(OncallError):
    """A setting is missing or invalid."""


class InputError(OncallError):
    """A parameter or input document cannot be used as given."""


class LockedError(OncallError):
    """Another run held the flow's lock for longer than this run would wait."""


class OutsideError(OncallError):
    """An outside system (OpsGenie, GitHub, Google, Slack, ...) failed."""

    def __init__(self, system: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.status = status


class AuthError(OutsideError):
    """The credentials were rejected or lack a permission."""


class NotFoundError(OutsideError):
    """The outside system has no such object."""


class RateLimitedError(OutsideError):
    """Rate limited on every attempt within the retry budget."""

    retry_after: float | None = None  # seconds the vendor asked to wait, when it said


class UnavailableError(OutsideError):
    """Server errors, timeouts or dropped connections on every attempt."""


class UncertainError(UnavailableError):
    """A write reached the vendor and its answer was lost (a timeout, a dropped connection, a 5xx).

    The write may or may not have happened, so it is not retried; its caller decides how to
    find out (a marker to look up) or how to avoid a second one (Slack: see tasks/delivery.py).
    """


class RejectedError(OutsideError):
    """The request was refused for a reason other than auth, absence or rate."""


class ConflictError(RejectedError):
    """A write refused because the thing changed since it was read (a Docs revision lock).

    This write was not applied; a rerun reads again, and writes against what it then finds."""


class NotAvailableError(OutsideError):
    """The source does not offer this at all (its plan, its product or a missing setting); reports say so."""


class MalformedError(OutsideError):
    """A response or a record in it did not have the shape the vendor documents."""
