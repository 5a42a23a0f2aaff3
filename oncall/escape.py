"""Untrusted alert text made safe where it lands, and cut to the destination's limits.

Alert titles come from anything that can fire an alert. Each destination gets the escaping its
renderer needs, and no more:

| function      | destination                      | what it stops                                       |
|---------------|----------------------------------|-----------------------------------------------------|
| `md`          | GitHub markdown (issue bodies)   | HTML, markdown structure, @-mentions, issue refs    |
| `plain`       | GitHub plain text (issue titles) | @-mentions, issue refs                              |
| `artifact_md` | Prefect UI markdown artifacts    | HTML, markdown structure (the UI pings nobody)      |
| `slack`       | Slack mrkdwn                     | `<!channel>`, links, @here, formatting and code     |
| `slack_plain` | Slack plain_text (headers)       | @here                                               |
| `doc`         | Google Docs text (COE values)    | a `{{placeholder}}` forming; markdown means nothing |
| `terminal`    | a terminal or CI log (one line)  | escape sequences, bidi reordering, line breaks      |

Mentions follow GitHub's rule (html-pipeline's MentionFilter: `(?:^|\\W)@[a-z0-9]`, where
Ruby's `\\W` is ASCII): an `@` before an ASCII letter or digit pings unless an ASCII letter or
digit stands right before it, so `Zoë@team` pings and `ops@example.com` does not. Slack's own
rule is narrower (after a space, `(`, `>`, `*`, `_` or the start), so the same rule covers it.
GitHub links `#123`, `owner/repo#123` and `GH-123` even after a backslash, so a ZWSP goes
between the `#` (or `GH-`) and the number, as it goes after a mention's `@`.

Every destination also gets control characters (but line breaks where lines are kept), bidi
marks and overrides, and lone surrogates as U+FFFD. Every function escapes first and cuts after: `limit` bounds the escaped result, marker
included, and the cut never splits an entity, a backslash escape or a ZWSP pair.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ZWSP = "\u200b"
MARKER = "…"

_MENTION = r"(?P<mention>(?<![A-Za-z0-9])@(?=[A-Za-z0-9]))"
_ISSUE_REF = r"(?P<ref>#(?=[0-9]))"
_GH_REF = r"(?P<gh>(?<![A-Za-z0-9])[Gg][Hh]-(?=[0-9]))"
_HTML = r"(?P<html>[&<>])"
_MD_SPECIAL = r"(?P<md>[\\`*_{}\[\]()#!|~])"
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_CHARS = {"`": "'", "*": "∗", "~": "∼"}
_LOOKAHEAD = 8  # the most characters any rule looks past the one it changes
# C0 and C1 controls and DEL (ESC and CSI start escape sequences; BEL ends an OSC 8 link), and
# the bidirectional marks, embeddings, overrides and isolates that reorder the rest of a line;
# lone surrogates too, which a UTF-8 stream refuses to write.
_TERMINAL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# The same for text that keeps its lines: every destination gets them as U+FFFD, since a
# U+202E in an issue title shows the alert's words reversed, and ESC or BEL reach the terminal
# of anyone who pipes the text on.
_CONTROLS = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


class _Escaper:
    """One destination's escaping: a regex of what must change and, per match, its replacement.

    Each replacement is an atomic piece: a cut keeps it whole or drops it, and never keeps
    half of `&amp;`, a backslash without its character, or an `@` without its ZWSP.
    """

    def __init__(self, pattern: str, replace: Callable[[re.Match[str]], str], *, lines: bool = False) -> None:
        self._pattern = re.compile(pattern)
        self._replace = replace
        self._lines = lines

    def __call__(self, text: str, limit: int, marker: str = MARKER) -> str:
        text = _CONTROLS.sub("\ufffd", _keep_lines(text) if self._lines else _one_line(text))
        # Escaping never shortens, so nothing past `limit` (and what the rules look ahead at) fits.
        head = text[: limit + _LOOKAHEAD]
        escaped = self._pattern.sub(self._replace, head)
        if len(head) == len(text) and len(escaped) <= limit:
            return escaped
        if limit < len(marker):
            marker = ""
        room = limit - len(marker)
        out: list[str] = []
        pos = 0
        for m in self._pattern.finditer(head):
            plain = head[pos : m.start()]
            if len(plain) >= room:
                out.append(plain[:room])
                return "".join(out) + marker
            out.append(plain)
            room -= len(plain)
            piece = self._replace(m)
            if len(piece) > room:
                return "".join(out) + marker
            out.append(piece)
            room -= len(piece)
            pos = m.end()
        out.append(head[pos:][:room])
        return "".join(out) + marker


def cut(text: str, limit: int, marker: str = MARKER) -> str:
    """At most `limit` characters, the marker included, for text that needs no escaping."""
    if len(text) <= limit:
        return text
    if limit < len(marker):
        return text[:limit]
    return text[: limit - len(marker)] + marker


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _keep_lines(text: str) -> str:
    return "\n".join(_one_line(line) for line in text.split("\n"))


def _github(m: re.Match[str]) -> str:
    kind, char = m.lastgroup, m.group()
    if kind == "mention" or kind == "gh":
        return char + ZWSP
    if kind == "ref":
        return "\\#" + ZWSP
    if kind == "html":
        return _ENTITY[char]
    return "\\" + char


def _artifact(m: re.Match[str]) -> str:
    char = m.group()
    return _ENTITY[char] if m.lastgroup == "html" else "\\" + char


def _slack(m: re.Match[str]) -> str:
    kind, char = m.lastgroup, m.group()
    if kind == "mention":
        return char + ZWSP
    if kind == "html":
        return _ENTITY[char]
    if kind == "underscore":
        return "＿"
    return _SLACK_CHARS[char]


def _zwsp_after(m: re.Match[str]) -> str:
    return m.group() + ZWSP


def _doc(m: re.Match[str]) -> str:
    return ZWSP + "}" if m.lastgroup == "head" else m.group() + ZWSP


_md = _Escaper("|".join((_MENTION, _ISSUE_REF, _GH_REF, _HTML, _MD_SPECIAL)), _github)
_plain = _Escaper("|".join((_MENTION, _ISSUE_REF, _GH_REF)), _zwsp_after)
_artifact_md = _Escaper("|".join((_HTML, _MD_SPECIAL)), _artifact)
_slack_mrkdwn = _Escaper(
    "|".join((_MENTION, _HTML, r"(?P<underscore>(?<!\w)_|_(?!\w))", r"(?P<char>[`*~])")), _slack
)
_slack_plain = _Escaper(_MENTION, _zwsp_after)
# A value must not form `{{` or `}}` with itself, nor with the template text around it: so
# no brace before a brace, no `{` at its end and no `}` at its start.
_doc_text = _Escaper(r"(?P<brace>[{}](?=[{}])|\{\Z)|(?P<head>\A\})", _doc, lines=True)


def md(text: str, limit: int = 500) -> str:
    """GitHub markdown, inline (issue bodies, comments): literal text that pings and links nothing."""
    return _md(text, limit)


def plain(text: str, limit: int = 500) -> str:
    """GitHub plain text (issue titles): no mention pings, no link to another issue."""
    return _plain(text, limit)


def artifact_md(text: str, limit: int = 500) -> str:
    """Inline markdown for the Prefect UI's artifacts (and the same report as a file): no HTML,
    no link, no table or heading breakout. Nobody is notified there, so mentions stay as typed."""
    return _artifact_md(text, limit)


def slack(text: str, limit: int = 500) -> str:
    """Slack mrkdwn: Slack's own &<> escaping (kills `<!channel>` and links), no pings, no code breakout."""
    return _slack_mrkdwn(text, limit)


def slack_plain(text: str, limit: int = 150) -> str:
    """Slack plain_text (a header): shown as typed, but no @here that could be read as a ping."""
    return _slack_plain(text, limit)


def doc(text: str, limit: int = 2_000) -> str:
    """Google Docs text (a COE placeholder's value): lines kept, no markdown escaping (Docs shows
    it literally, and does not ping), and no `{{placeholder}}` can form for a later fill."""
    return _doc_text(text, limit)


def terminal(text: str, limit: int = 200) -> str:
    """One line for a terminal or a CI log: no character can recolour, hide, retitle or reorder
    what follows (escape sequences, OSC links, bidi overrides become U+FFFD). No markup means
    anything there, so nothing else changes."""
    return cut(_TERMINAL.sub("\ufffd", _one_line(text)), limit)


def literal_block(text: str) -> str:
    """Markdown that shows a whole document as it is, lines kept (coe-prep's dry-run preview in
    the Prefect UI): a fenced code block whose fence is longer than any run of backticks in the
    text, so no line of it can close the block, and nothing in it renders as HTML or a link."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"
