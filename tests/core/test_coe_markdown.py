"""The markdown COE's names and text, from plain data."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from oncall.coe import PLACEHOLDER, TEMPLATE, fill
from oncall.coe_markdown import (
    BRANCH_PREFIX,
    ID_LIMIT,
    SLUG_LIMIT,
    branch_name,
    coe_marker,
    coe_paths,
    md_value,
    postmortem_dir,
    pull_body,
    pull_title,
    render_markdown,
    safe_id,
    slug,
)
from oncall.errors import ConfigError
from oncall.escape import ZWSP
from oncall.models import Incident
from oncall.settings import Settings

HOSTILE = "@oncall-team <script>alert(1)</script> | col | #12 [x](javascript:alert(1)) `code` **bold** ~~s~~"


def _incident(message: str, incident_id: str = "inc-1", at: datetime | None = None) -> Incident:
    start = at or datetime(2026, 11, 21, 19, 5, tzinfo=UTC)
    return Incident(
        id=incident_id,
        message=message,
        status="resolved",
        created_at=start,
        resolved_at=start + timedelta(minutes=47),
    )


def _ref_ok(branch: str) -> bool:
    """git's own verdict on a branch name (check-ref-format --branch)."""
    done = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.parametrize(
    "incident_id",
    [
        "inc-7f3a-0001",
        "alert-3f9c/2",
        "../../refs/heads/main",
        "a..b",
        "with space and\ttab",
        "x.lock",
        "@{u}",
        "~^:?*[\\",
        "ÄÖÜ-ünïcode-事件",
        ".hidden/",
        "INC-1",
        "x" * 500,
        "",
    ],
)
def test_every_incident_id_gives_a_branch_git_accepts_and_its_own(incident_id: str) -> None:
    branch = branch_name(incident_id)
    assert branch.startswith(BRANCH_PREFIX) and _ref_ok(branch)
    tail = branch.removeprefix(BRANCH_PREFIX)
    assert re.fullmatch(r"[a-z0-9_-]+", tail) and len(tail) <= ID_LIMIT + 11
    assert ".." not in branch and " " not in branch and "/" not in tail
    assert coe_marker(incident_id) == f"<!-- oncall-flows:coe {tail} -->"  # cannot end the comment early


def test_an_id_that_is_safe_is_kept_and_ids_that_differ_get_different_branches() -> None:
    assert branch_name("inc-7f3a-0001") == "oncall-flows/coe/inc-7f3a-0001"
    ids = ["a/b", "a b", "a..b", "a-b", "A-B", "a_b", "x" * 200, "x" * 201]
    assert len({safe_id(i) for i in ids}) == len(ids)
    assert safe_id("a/b") == safe_id("a/b")  # stable across runs


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("xPro unavailable: RDS storage exhausted", "xpro-unavailable-rds-storage-exhausted"),
        ("Zoë's café — déjà vu", "zoe-s-cafe-deja-vu"),
        ("../../etc/passwd", "etc-passwd"),
        ("事件 🔥", "incident"),
        ("", "incident"),
        ("---", "incident"),
    ],
)
def test_the_slug_is_ascii_words_joined_by_dashes(title: str, expected: str) -> None:
    assert slug(title) == expected


def test_a_long_title_is_cut_at_a_word_end() -> None:
    title = "disk full on the primary database " * 20
    cut = slug(title)
    assert (
        len(cut) <= SLUG_LIMIT and not cut.endswith("-") and title.lower().startswith(cut.replace("-", " "))
    )
    assert len(slug("x" * 500)) == SLUG_LIMIT


def test_the_path_is_the_start_date_in_the_team_zone_and_the_title() -> None:
    late = _incident(HOSTILE + " / ../x", at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    path, other = coe_paths("postmortems", late, "America/New_York")  # 22:00 on the 21st there
    assert path.startswith("postmortems/2026-11-21-oncall-team-script-alert-1-script-col")
    assert path.endswith(".md") and path.count("/") == 1
    assert other == path.removesuffix(".md") + "-inc-1.md"
    assert coe_paths("", late, "UTC")[0].startswith("2026-11-22-")


def test_the_folder_setting_stays_inside_the_repository() -> None:
    assert postmortem_dir(Settings(coe_postmortem_dir="/docs/postmortems/")) == "docs/postmortems"
    assert postmortem_dir(Settings(coe_postmortem_dir="/")) == ""
    with pytest.raises(ConfigError, match="leaves the repository"):
        postmortem_dir(Settings(coe_postmortem_dir="../elsewhere"))


def test_a_hostile_value_pings_nobody_and_injects_nothing() -> None:
    shown = md_value(HOSTILE)
    assert f"@{ZWSP}oncall-team" in shown and "<script>" not in shown and "&lt;script&gt;" in shown
    assert "\\|" in shown and "|" not in shown.replace("\\|", "")
    assert "\\#" in shown and "\\[x\\]\\(javascript:" in shown and "\\`code\\`" in shown and "\\*\\*" in shown


def test_a_value_line_starts_no_block() -> None:
    lines = md_value("- item\n+ plus\n1. first\n2) second\n===\n# heading\n> quote\n    indented\n\n").split(
        "\\\n"
    )
    assert lines == [
        "\\- item",
        "\\+ plus",
        "1\\. first",
        "2\\) second",
        "\\===",
        "\\# heading",
        "&gt; quote",
        "indented",
    ]


def test_a_table_row_keeps_its_cells() -> None:
    template = "| action | owner |\n|---|---|\n| {{timeline}} | {{incident.title}} |\n\n{{timeline}}\n"
    text = render_markdown(template, {"timeline": "a | b\nc", "incident.title": "x|y"}, "<!-- m -->")
    row = text.split("\n")[3]
    assert row == "| a \\| b<br>c | x\\|y |"  # two cells, the value's lines as <br>
    assert text.split("\n")[5:7] == ["a \\| b\\", "c"]  # outside a table: a hard line break


def test_an_incident_link_is_an_autolink_and_anything_else_is_text() -> None:
    assert md_value("https://acme.app.opsgenie.com/incident/detail/abc_1#x") == (
        "<https://acme.app.opsgenie.com/incident/detail/abc_1#x>"
    )
    assert md_value("javascript:alert(1)") == "javascript:alert\\(1\\)"
    assert md_value("https://x.invalid/<b>") == "https://x.invalid/&lt;b&gt;"


def test_the_filled_template_leaves_no_placeholder_and_keeps_its_structure() -> None:
    template = TEMPLATE.read_text(encoding="utf-8")
    names = set(PLACEHOLDER.findall(template))
    values = dict.fromkeys(names, HOSTILE + " {{incident.title}}")
    values["timeline"] = "\n".join(f"2026-11-21 14:0{i}:00 · dana · {HOSTILE}" for i in range(3))
    text = render_markdown(template, values, coe_marker("inc-1"))
    assert text.startswith("<!-- oncall-flows:coe inc-1 -->\n# COE: ")
    assert "{{" not in text and "<script>" not in text and "@oncall" not in text
    headings = [line for line in text.split("\n") if line.startswith("#")]
    wanted = [line for line in template.split("\n") if line.startswith("#")]
    assert len(headings) == len(wanted) > 5  # no value made or hid a heading
    assert headings[1:] == wanted[1:]  # the only heading with a placeholder is the first
    assert headings[0] == fill(wanted[0], {"incident.title": md_value(values["incident.title"])})
    table = [line for line in text.split("\n") if line.startswith("|")]
    assert table == [line for line in template.split("\n") if line.startswith("|")]  # untouched


def test_the_pull_request_title_and_body_ping_nobody() -> None:
    title = pull_title(f"COE 2026-11-21 {HOSTILE}")
    assert f"@{ZWSP}" in title and f"#{ZWSP}12" in title and len(title) <= 256
    values = {
        "incident.id": "inc-1",
        "incident.priority": "P1",
        "incident.duration": "47m 00s",
        "incident.link": HOSTILE,
    }
    body = pull_body(values, "postmortems/2026-11-21-x.md")
    assert "`postmortems/2026-11-21-x.md`" in body and "<script>" not in body and f"@{ZWSP}" in body


def test_a_table_value_alone_on_its_line_stays_a_table_with_each_cell_escaped() -> None:
    """The timeline as a text table (`{{timeline.table}}`): its rows are kept, its cells escaped."""
    table = "| time | who | what |\n|---|---|---|\n| 14:05 | @dana | <b>rolled back</b> #12 ∣ x |\n| 14:06 | | - |"
    rows = [("time", "who", "what"), ("14:05", "@dana", "<b>rolled back</b> #12 ∣ x"), ("14:06", "", "-")]
    text = render_markdown(
        "## Timeline\n\n{{timeline.table}}\n\nInline: {{timeline.table}}\n",
        {"timeline.table": table},
        "m",
        {"timeline.table": rows},
    )
    lines = text.split("\n")
    assert lines[3:7] == [
        "| time | who | what |",
        "|---|---|---|",
        f"| 14:05 | @{ZWSP}dana | &lt;b&gt;rolled back&lt;/b&gt; \\#{ZWSP}12 ∣ x |",
        "| 14:06 |  | \\- |",
    ]
    assert "Inline: \\| time" in text  # not alone on its line: text, no table
