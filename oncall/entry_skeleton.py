"""A new runbook entry in the runbook's own layout, for a gap issue to show and a draft pull
request to commit: a heading with the runbook's section style, a whole file with the sections
its siblings use, or a table row; prefilled with what responders wrote.

Pure. One home for both, so the entry an issue shows is the entry its pull request adds: the
pull request's copy differs only by its marker and its escaping (markdown, since it lands in a
file rather than inside the issue's code fence).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

from oncall import escape
from oncall.coverage import likely_product
from oncall.gaps import KindCoverage
from oncall.kinds import alert_name
from oncall.runbook import Layout, Runbook

Escape = Callable[[str, int], str]
NOTES_SHOWN, NOTE_LIMIT = 5, 300
_PROMPTS = {
    "summary": "TODO: what this alert means, in a sentence.",
    "impact": "TODO: who or what is affected while it fires.",
    "diagnosis": "TODO: how to tell what is wrong: dashboards, logs, commands.",
    "mitigation": "TODO: what fixed it, step by step.",
}


def entry_name(kc: KindCoverage) -> str:
    """What a new entry is called: the alert's name when the title has one, else its kind."""
    return alert_name(kc.sample.message) or kc.kind


def file_name(name: str) -> str:
    """A file name GitHub and every site generator accept, from an alert name."""
    return (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100] or "alert") + ".md"


def entry_place(kc: KindCoverage, runbook: Runbook) -> tuple[str | None, str]:
    """Where a new entry goes: the product guessed, and the file relative to the runbook's root
    ("" for a one-file runbook). A folder layout gets a new file in the product's folder; a folder
    of heading-style files gets the product's file."""
    product = likely_product(runbook, kc.sample.message)
    siblings = [e for e in runbook.entries if e.product == product and e.path] if product else []
    if runbook.layout is Layout.FILES:
        folder = posixpath.dirname(siblings[0].path) if siblings else ""
        return product, posixpath.join(folder, file_name(entry_name(kc)))
    if siblings:
        return product, siblings[-1].path
    first = next((e.path for e in runbook.entries if e.path), "")
    return product, first


def _section_lines(section: str, kc: KindCoverage, notes: Sequence[str], esc: Escape) -> list[str]:
    key = section.lower()
    lines: list[str] = []
    if key == "diagnosis":
        sample = esc(kc.sample.message, 300).replace('"', "'")
        lines += [f'You get an alert like "{sample}".', ""]
    if notes and key == "diagnosis":
        lines += ["What responders wrote on these alerts, a starting point:", ""]
        lines += [f"- {esc(n, NOTE_LIMIT)}" for n in notes[:NOTES_SHOWN]] + [""]
    return [*lines, _PROMPTS.get(key, "TODO.")]


def _sections(runbook: Runbook) -> tuple[str, ...]:
    return runbook.sections or ("Diagnosis", "Mitigation")


def entry_skeleton(
    kc: KindCoverage,
    runbook: Runbook,
    notes: Sequence[str] = (),
    *,
    marker: str = "",
    esc: Escape = escape.plain,
) -> str:
    """A ready-to-paste entry in the runbook's own layout: a heading with its section style, a
    whole file with the sections its siblings use, or a table row. `notes` (what responders wrote)
    prefill Diagnosis; `marker` (an HTML comment) lets a pull request find its own entry again;
    `esc` is the escaping where it lands (plain inside the issue's code fence, GitHub markdown in a file)."""
    if runbook.layout is Layout.TABLE:
        return _table_row(kc, runbook, notes, marker, esc)
    sections = _sections(runbook)
    if notes and not any(s.lower() == "diagnosis" for s in sections):
        sections = ("Diagnosis", *sections)
    if runbook.layout is Layout.FILES:
        head, style = f"# {esc(entry_name(kc), 200)}", runbook.section_marker
        style = style if style.lstrip().startswith("#") else "## {}"
    else:
        head, style = f"{'#' * runbook.entry_level} {esc(kc.kind, 200)}", runbook.section_marker
    parts = [head, ""] + ([marker, ""] if marker else [])
    for section in sections:
        parts += [style.format(section), "", *_section_lines(section, kc, notes, esc), ""]
    return "\n".join(parts).rstrip("\n") + "\n"


_PIPE = re.compile(r"(?<!\\)\|")  # a pipe the escaping left bare would split the cell
_DESCRIBE = frozenset({"diagnosis", "description", "summary", "details", "symptoms", "notes"})
_ACT = frozenset({"mitigation", "action", "actions", "fix", "remedy", "resolution", "steps", "runbook"})


def _table_row(kc: KindCoverage, runbook: Runbook, notes: Sequence[str], marker: str, esc: Escape) -> str:
    """One row with a cell for each of the table's other columns (`Runbook.sections`): what to
    check in the first describing column (with the notes), what fixed it in the acting one."""
    columns = runbook.sections or ("Diagnosis", "Mitigation")
    said = "; ".join(esc(n, NOTE_LIMIT) for n in notes[:NOTES_SHOWN])
    cells = [esc(entry_name(kc), 200)]
    described = False
    for column in columns:
        key = column.strip().lower()
        if key in _DESCRIBE and not described:
            described = True
            cells.append("TODO: how to tell what is wrong." + (f" Responders wrote: {said}" if said else ""))
        elif key in _ACT:
            cells.append("TODO: what fixed it.")
        else:
            cells.append("TODO")
    if said and not described:
        cells[-1] += f" Responders wrote: {said}"
    cells[-1] += f" {marker}" if marker else ""
    return "| " + " | ".join(_PIPE.sub(r"\\|", c) for c in cells) + " |\n"
