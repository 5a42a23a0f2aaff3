"""Property tests: parsers never crash on arbitrary text, escaping never lets a ping,
HTML, a markdown link or a placeholder through, and outputs stay within their limits."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall import escape
from oncall.coe import PLACEHOLDER, fill
from oncall.coverage import significant_words
from oncall.errors import InputError
from oncall.kinds import alert_kind
from oncall.runbook import parse_runbook

NASTY = st.sampled_from(
    [
        "@here",
        "@channel",
        "<!channel>",
        "<!here>",
        "<script>",
        "{{incident.title}}",
        "[x](http://e)",
        "`",
        "```",
        "|",
        "#",
        "*",
        "_",
        "\n",
        "{{",
        "}}",
        "{",
        "}",
        "@",
        "<",
        ">",
        "&",
        "](",
        "\u200b",
        "Zoë@ops",
        "٣@x",
        "#1",
        "a/b#2",
        "GH-3",
        "\ufffd",
        "http://e.x",
        "HTTPS://",
        "ftp://",
        "www.",
        "WWW.e",
        "a@b.co",
        "\\",
        "~~",
        "&amp;",
        "&copy;",
        " #",
        "<http://e>",
        "![i](http://e/i.png)",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=20), NASTY), max_size=30).map("".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXT)
def test_title_normalisation_never_raises(text: str) -> None:
    assert isinstance(alert_kind(text), str)
    assert isinstance(significant_words(text), tuple)


@SETTINGS
@given(
    st.lists(
        st.one_of(TEXT, st.sampled_from(["# P", "## A", "### E", "_Diagnosis_", "_Mitigation_", "```"])),
        max_size=40,
    ).map("\n".join)
)
def test_runbook_parser_raises_only_input_errors(text: str) -> None:
    try:
        book = parse_runbook(text)
    except InputError:
        return
    assert all(e.anchor == e.anchor.lower() and " " not in e.anchor for e in book.entries)


# GitHub's mention rule (html-pipeline's MentionFilter, whose \\W is ASCII), and its references.
GITHUB_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
GITHUB_REF = re.compile(r"#[0-9]|(?<![A-Za-z0-9])[Gg][Hh]-[0-9]")


@SETTINGS
@given(
    TEXT,
    st.integers(min_value=0, max_value=400),
    st.sampled_from(["md", "plain", "prefect_md", "slack", "slack_plain", "doc"]),
)
def test_every_escape_fits_its_limit_for_any_text(text: str, limit: int, name: str) -> None:
    out = getattr(escape, name)(text, limit)
    assert len(out) <= limit


@SETTINGS
@given(TEXT, st.integers(min_value=1, max_value=400))
def test_markdown_escaping_lets_nothing_through(text: str, limit: int) -> None:
    out = escape.md(text, limit)
    assert len(out) <= limit  # cut after escaping
    assert not GITHUB_MENTION.search(out)  # no mention can ping
    assert not GITHUB_REF.search(out)  # no link to, or notice on, another issue
    assert "<" not in out and ">" not in out  # no HTML
    assert not re.search(r"(?<!\\)\]\(", out)  # no link breakout
    assert "\n" not in out


@SETTINGS
@given(TEXT, st.integers(min_value=1, max_value=400))
def test_github_titles_neither_ping_nor_reference(text: str, limit: int) -> None:
    out = escape.plain(text, limit)
    assert len(out) <= limit
    assert not GITHUB_MENTION.search(out) and not GITHUB_REF.search(out)


@SETTINGS
@given(TEXT, st.integers(min_value=1, max_value=400))
def test_slack_escaping_lets_nothing_through(text: str, limit: int) -> None:
    out = escape.slack(text, limit)
    assert len(out) <= limit
    assert "<" not in out and ">" not in out  # no <!channel>, no <@U123>, no links
    assert not GITHUB_MENTION.search(out) and "`" not in out


@SETTINGS
@given(TEXT, TEXT)
def test_coe_values_never_form_or_reexpand_a_placeholder(title: str, around: str) -> None:
    from datetime import UTC, datetime

    from oncall.coe import coe_values
    from oncall.models import Incident
    from tests.factories import coe_facts

    incident = Incident(
        id="i", message=title or "x", status="closed", created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    values = coe_values(coe_facts(incident))
    template = f"{escape.doc(around, 200)}{{{{incident.title}}}}{escape.doc(around, 200)}"
    filled = fill(template, values)
    assert PLACEHOLDER.findall(filled) == []
    assert fill(filled, values) == filled


# The Prefect UI's markdown is marked's (see oncall/escape.py, and tests/core/test_render.py,
# which pins these rules to the installed UI bundle): what it shows of a text or escape token.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MARKED_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
MARKED_URL = re.compile(r"((?:ftp|https?):\/\/|www\.)(?:[a-zA-Z0-9\-]+\.?)+[^\s<]*", re.I)
MARKED_EMAIL = re.compile(r"[A-Za-z0-9._+-]+(@)[a-zA-Z0-9-_]+(?:\.[a-zA-Z0-9-_]*[a-zA-Z0-9])+(?![-_])")


def _unescaped(out: str) -> str:
    """`out` with every backslash escape (and what it escapes) taken away: what marked reads as
    syntax is what is left."""
    return MARKED_ESCAPE.sub("", out)


@SETTINGS
@given(TEXT, st.integers(min_value=1, max_value=400))
def test_prefect_ui_escaping_lets_nothing_through(text: str, limit: int) -> None:
    out = escape.prefect_md(text, limit)
    assert len(out) <= limit
    syntax = _unescaped(out)
    assert not set(syntax) & set("\\`*_~[]|<&")  # no code, emphasis, link, image, cell, HTML, entity
    assert not MARKED_URL.search(out) and not MARKED_EMAIL.search(out)  # no autolink, no mailto
    assert not out.endswith("#") or out.endswith("\\#")  # a heading keeps its last `#`
    assert "\n" not in out and out.count("\u200b") <= text.count("\u200b")  # no ZWSP of its own


@SETTINGS
@given(TEXT)
def test_the_prefect_ui_shows_the_text_as_typed(text: str) -> None:
    """Uncut, the escaped text reads back (marked's escapes undone) as the text on one line."""
    out = escape.prefect_md(text, 100_000)
    expected = CONTROLS.sub("\ufffd", " ".join(text.split()))  # one line, controls as U+FFFD
    assert MARKED_ESCAPE.sub(r"\1", out) == expected


@SETTINGS
@given(TEXT, TEXT)
def test_a_prefect_link_label_is_shown_raw_and_cannot_end_early(label: str, path: str) -> None:
    link = escape.prefect_link(label or "x", "https://ops.example/" + path)
    m = re.fullmatch(r"\[([^\[\]\\`|\n]*)\]\((https://ops\.example/[^\s()<>\\|]*)\)", link)
    assert m, link  # one label with nothing that ends, nests or splits it; one URL that cannot end early
