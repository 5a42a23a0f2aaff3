"""Untrusted alert text made safe where it lands, and cut to the destination's limits.

Alert titles come from anything that can fire an alert. Where they land they must not ping
people (`@team`, `<!channel>`), open HTML, break out of markdown structure (links, tables,
headings), or form a `{{placeholder}}` that a later fill would expand.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")
_MENTION = re.compile(r"(?<!\w)@(?=\w)")  # an email address is no mention
_BRACES = re.compile(r"([{}])(?=[{}])")


def cut(text: str, limit: int, marker: str = "…") -> str:
    """At most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def _one_line(text: str) -> str:
    return " ".join(text.split())


def md(text: str, limit: int = 500) -> str:
    """Inline markdown (GitHub, Prefect artifacts): literal text, no mention, no HTML."""
    text = cut(_one_line(text), limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MENTION.sub("@" + ZWSP, text)


def slack(text: str, limit: int = 500) -> str:
    """Slack mrkdwn: Slack's own &<> escaping (kills `<!channel>` and links), no pings, no code breakout."""
    text = cut(_one_line(text), limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("`", "'").replace("*", "∗").replace("~", "∼")
    text = re.sub(r"(?<!\w)_|_(?!\w)", "＿", text)
    return _MENTION.sub("@" + ZWSP, text)


def plain(text: str, limit: int = 500) -> str:
    """Plain text (documents, Slack plain_text): no placeholder can form, no mention pings."""
    text = cut(_one_line(text), limit)
    text = _BRACES.sub(lambda m: m.group(1) + ZWSP, text)
    return _MENTION.sub("@" + ZWSP, text)
