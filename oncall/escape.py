"""Untrusted alert text made safe where it lands, and cut to the destination's limits.

Alert titles come from anything that can fire an alert. Each destination gets the escaping its
renderer needs, and no more:

| function      | destination                      | what it stops                                       |
|---------------|----------------------------------|-----------------------------------------------------|
| `md`          | GitHub markdown (issue bodies)   | HTML, markdown structure, @-mentions, issue refs    |
| `plain`       | GitHub plain text (issue titles) | @-mentions, issue refs                              |
| `prefect_md`  | Prefect UI markdown artifacts    | HTML, links (autolinks too), tables, emphasis, code |
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

The Prefect UI's artifacts are not GitHub: its `PMarkdownRenderer` (prefect-design, in the UI
bundle under prefect/server/ui) lexes with marked (`gfm: true, breaks: true`) and builds Vue
nodes from the tokens, never HTML from text. A text or escape token shows its text with only
`&lt; &gt; &quot; &#39; &amp;` decoded; a link shows its raw label (`[\\#1101](…)` shows the
backslash); an `html` token is injected as HTML. So `prefect_md` backslash-escapes what marked
reads as inline syntax (a backslash, a backtick, `* _ ~ [ ] | < &`), what would make an
autolink (`:` before `//`, the `.` of `www.`, the `@` of an e-mail address), and a closing `#`
that a heading would drop; nothing else. Nobody is notified in the UI, so `@team` and `#12` stay as typed. Link
labels get no escapes at all (`prefect_link`): the characters that could end or nest a label
become look-alikes instead.

Every destination also gets control characters (but line breaks where lines are kept), bidi
marks and overrides, and lone surrogates as U+FFFD. Every function escapes first and cuts
after: `limit` bounds the escaped result, marker included, and the cut never splits an entity,
a backslash escape or a ZWSP pair.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

ZWSP = "\u200b"
MARKER = "…"

_MENTION = r"(?P<mention>(?<![A-Za-z0-9])@(?=[A-Za-z0-9]))"
_ISSUE_REF = r"(?P<ref>#(?=[0-9]))"
_GH_REF = r"(?P<gh>(?<![A-Za-z0-9])[Gg][Hh]-(?=[0-9]))"
_HTML = r"(?P<html>[&<>])"
_MD_SPECIAL = r"(?P<md>[\\`*_{}\[\]()#!|~])"
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_CHARS = {"`": "'", "*": "∗", "~": "∼"}
# marked's inline syntax, and the starts of its GFM autolinks (`url`: `https?://`, `ftp://`,
# `www.`, case-insensitive; `email`: `[A-Za-z0-9._+-]+@[a-zA-Z0-9-_]+...`), and a value's
# last `#` (an ATX heading drops a closing ` #` run).
_PREFECT_SPECIAL = r"(?P<md>[\\`*_~\[\]|<&])"
_PREFECT_AUTOLINK = r"(?P<auto>:(?=//)|(?<=[Ww][Ww][Ww])\.|(?<=[A-Za-z0-9._+-])@(?=[A-Za-z0-9_-])|#\Z)"
# In a link label the UI shows the raw label, so nothing is escaped there; these would end,
# nest or split it (a `|` splits a table cell before the label is read). Their stand-ins are in
# the fonts every desktop has (full-width forms showed as empty boxes in Chromium on Debian).
_LABEL_CHARS = {"[": "(", "]": ")", "\\": "∖", "`": "'", "|": "¦"}
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


def _backslash(m: re.Match[str]) -> str:
    return "\\" + m.group()


def _label(m: re.Match[str]) -> str:
    return _LABEL_CHARS[m.group()]


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
_prefect_md = _Escaper("|".join((_PREFECT_SPECIAL, _PREFECT_AUTOLINK)), _backslash)
_prefect_label = _Escaper(r"[\[\]\\`|]", _label)
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


def prefect_md(text: str, limit: int = 500) -> str:
    """Inline markdown for the Prefect UI's artifacts (and the same report as a file), anywhere
    but the start of a line or a link label: shown as typed, with no HTML, no link or image
    (autolinks included), no emphasis or code, and no table cell or heading breakout."""
    return _prefect_md(text, limit)


def prefect_link(text: str, url: str | None, limit: int = 80) -> str:
    """A link for the Prefect UI: the label shown exactly as written (the UI never unescapes a
    label, so it gets no escapes; characters that could end or nest it become look-alikes), to
    an http(s) URL percent-encoded so it cannot end early. Any other URL (`javascript:`, none)
    gives the label as plain text."""
    if not url or not re.match(r"(?i)https?://", url):
        return prefect_md(text, limit)
    return f"[{_prefect_label(text, limit)}]({quote(url, safe=':/?&=#%')})"


def slack_link(text: str, url: str | None, limit: int = 60) -> str:
    """A Slack mrkdwn link `<url|label>`: the label escaped as mrkdwn, the URL percent-encoded
    so no `|`, `<` or `>` in it can end the link early or open another (`<!channel>`), and `&`
    as Slack's `&amp;`. Any URL that is not http(s) gives the label as text."""
    if not url or not re.match(r"(?i)https?://", url):
        return slack(text, limit)
    href = quote(url, safe=":/?&=#%").replace("&", "&amp;")
    return f"<{href}|{slack(text, limit)}>"


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


def terminal_lines(text: str) -> str:
    """A preview for a terminal (`--dry-run`, `oncall requests`), its lines kept, each made safe
    as `terminal` makes one line."""
    return "\n".join(terminal(line, 10_000) for line in text.split("\n"))


def literal_block(text: str) -> str:
    """Markdown that shows a whole document as it is, lines kept (coe-prep's dry-run preview in
    the Prefect UI): a fenced code block whose fence is longer than any run of backticks in the
    text, so no line of it can close the block, and nothing in it renders as HTML or a link."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"
