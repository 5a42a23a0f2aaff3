"""Escaping for each destination (the kinds tests live in tests/core/test_kinds.py)."""

from __future__ import annotations

import re

import pytest

from oncall import escape


def test_cut_marks_the_cut() -> None:
    assert escape.cut("abcdef", 4) == "abc…"
    assert escape.cut("abc", 4) == "abc"


def test_md_escapes_structure_and_mentions() -> None:
    out = escape.md("[x](y) <b> @team |")
    assert out == "\\[x\\]\\(y\\) &lt;b&gt; @\u200bteam \\|"


def test_slack_escapes_control_sequences() -> None:
    out = escape.slack("<!here> <@U123> & `x`")
    assert "<" not in out and ">" not in out and "`" not in out and "&amp;" in out


def test_docs_text_breaks_placeholders() -> None:
    assert "{{" not in escape.doc("{{incident.title}}") and "}}" not in escape.doc("{{x}}")


# -- each destination's limit bounds the escaped text -------------------------------------------

LIMITED = ["md", "plain", "prefect_md", "slack", "slack_plain", "doc"]


@pytest.mark.parametrize("name", LIMITED)
@pytest.mark.parametrize("text", ["&" * 300, "{" * 300, "@a " * 100, "#1 " * 100, "*_`|" * 80])
def test_the_limit_bounds_the_escaped_text(name: str, text: str) -> None:
    out = getattr(escape, name)(text, 256)
    assert len(out) <= 256
    assert out.endswith("…")


def _split_piece(body: str) -> bool:
    """Whether `body` ends inside an escape: half an entity, a backslash without its
    character, or an `@`/`#`/`{` whose ZWSP was cut off (the inputs below hold none of
    these characters unescaped)."""
    return bool(re.search(r"&(a|am|amp|l|lt|g|gt)?$|\\$|@$|#$|\{$", body))


def test_a_cut_never_splits_an_entity_an_escape_or_a_zwsp_pair() -> None:
    for pad in range(0, 12):
        for name, tail in (
            ("md", "&<>@b#1[]("),
            ("slack", "&&& @here"),
            ("plain", " @a #1"),
            ("doc", "{{{{"),
        ):
            out = getattr(escape, name)("a" * (240 + pad) + tail * 4, 256)
            assert len(out) <= 256 and out.endswith("…")
            assert not _split_piece(out.removesuffix("…")), (name, pad, out[-16:])


def test_the_cut_marker_counts_and_a_tiny_limit_still_holds() -> None:
    assert escape.cut("abcdef", 1) == "…" and escape.cut("abcdef", 0) == ""
    assert escape.md("abcdef", 3) == "ab…" and escape.md("&&", 1) == "…" and escape.md("&&", 0) == ""


# -- mentions, by GitHub's rule -------------------------------------------------------------


@pytest.mark.parametrize("before", ["Zoë", "٣", "é", "-", "(", "_", "&", "\u200b", ""])
def test_a_mention_after_any_non_ascii_or_non_alphanumeric_character_is_neutralised(before: str) -> None:
    for name in ("md", "plain", "slack", "slack_plain"):
        out = getattr(escape, name)(f"{before}@ops-team ping", 100)
        assert "@\u200bops-team" in out, (name, out)


@pytest.mark.parametrize("name", ["md", "plain", "slack"])
def test_an_email_address_is_no_mention_and_stays_as_typed(name: str) -> None:
    assert "oncall-bot@example.edu" in getattr(escape, name)("mail oncall-bot@example.edu", 100)


# -- issue references on GitHub -------------------------------------------------------------


@pytest.mark.parametrize("name", ["md", "plain"])
def test_github_text_cannot_reference_another_issue(name: str) -> None:
    out = getattr(escape, name)("see #123, acme/payments#45 and GH-7, gh-8", 200)
    assert not re.search(r"#\d|(?i:gh-\d)", out), out
    assert "123" in out and "acme/payments" in out and "45" in out


# -- each destination gets what its renderer needs, and no more ------------------------------


def test_the_prefect_ui_gets_markdown_escaping_but_no_zwsp() -> None:
    out = escape.prefect_md("Zoë@ops #12 <b>[x](y)", 100)  # marked's escapes: tests/core/test_render.py
    assert out == "Zoë@ops #12 \\<b>\\[x\\](y)"


def test_docs_text_keeps_lines_and_markdown_characters_and_gets_no_zwsp_after_at() -> None:
    out = escape.doc("Zoë@ops *bold* [x](y) #12\nline two {{incident.title}}", 200)
    assert out == "Zoë@ops *bold* [x](y) #12\nline two {\u200b{incident.title}\u200b}"


def test_docs_text_cannot_join_the_template_around_it() -> None:
    assert escape.doc("}x{", 20) == "\u200b}x{\u200b"


def test_slack_plain_text_is_shown_as_typed() -> None:
    assert escape.slack_plain("Deploy <b> *x* {{y}}", 150) == "Deploy <b> *x* {{y}}"


@pytest.mark.parametrize(
    "text",
    ["plain", "```\n<img src=x onerror=alert(1)>\n```", "````` five\n```` four", "[x](https://evil.example)"],
)
def test_a_literal_block_cannot_be_closed_by_its_text(text: str) -> None:
    block = escape.literal_block(text)
    fence = block.split("text\n", 1)[0]
    inner = block.removeprefix(fence + "text\n").removesuffix("\n" + fence + "\n")
    assert inner == text  # shown as it is, every line kept
    assert set(fence) == {"`"} and len(fence) >= 3
    assert not any(line.lstrip().startswith(fence) for line in inner.splitlines())


_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_terminal_text_cannot_carry_escape_sequences_or_reorder_a_line() -> None:
    hostile = "Disk\x1b[2J\x1b]8;;http://evil\x07Full\u202eevil\nnext\x9b31m\x7f"
    out = escape.terminal(hostile, 200)
    assert out == "Disk\ufffd[2J\ufffd]8;;http://evil\ufffdFull\ufffdevil next\ufffd31m\ufffd"
    for char in [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), *_BIDI]:
        assert escape.terminal(f"a{char}b", 10) in ("a\ufffdb", "a b"), repr(char)  # whitespace: a space
    assert escape.terminal("Zoë — ok [x] `y` <z>", 50) == "Zoë — ok [x] `y` <z>"  # nothing else changes


def test_terminal_text_is_cut_after_replacing() -> None:
    assert escape.terminal("x" * 500, 50) == "x" * 49 + escape.MARKER
    assert escape.terminal("\x1b" * 60, 50) == "\ufffd" * 49 + escape.MARKER
    assert escape.terminal("a  b\t\tc", 50) == "a b c"


def test_terminal_text_has_no_lone_surrogate_to_crash_a_utf8_stream() -> None:
    out = escape.terminal("Disk\ud800Full\udfff", 50)
    assert out == "Disk\ufffdFull\ufffd"
    out.encode("utf-8")  # a lone surrogate would raise here, as print() to a UTF-8 terminal does


@pytest.mark.parametrize("name", ["md", "plain", "prefect_md", "slack", "slack_plain", "doc"])
def test_every_destination_gets_no_control_or_bidi_character(name: str) -> None:
    """An issue title or a Slack line with U+202E shows its words reversed (a spoofed alert),
    and ESC or BEL travel into the terminals of anyone who pipes the text on."""
    out = getattr(escape, name)("Disk\x1b[2J\x07Full\u202eevil\x9b\x7fend\u2066x", 500)
    assert not any(c in out for c in "\x1b\x07\u202e\x9b\x7f\u2066"), repr(out)
    assert "Disk" in out and "evil" in out and "end" in out


def test_docs_text_keeps_its_lines_while_controls_go() -> None:
    assert escape.doc("one\x1b\ntwo\u202e", 100) == "one\ufffd\ntwo\ufffd"
