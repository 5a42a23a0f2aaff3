"""The COE as markdown in a pull request, for teams that keep postmortems in git.

Pure. The same template and values as the Google Doc, escaped for GitHub markdown instead of
Docs: alert text in a postmortem file must ping nobody, inject no HTML and break no table or
list. Every key a rerun finds the work by comes from the incident id, never from its title:
the branch (`oncall-flows/coe/<safe id>`), and the marker hidden in the file. The file's name
(`<dir>/YYYY-MM-DD-<slug>.md`) is for people, so it may be the title's.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Mapping, Sequence

from oncall import escape
from oncall.clock import local
from oncall.coe import PLACEHOLDER, fill
from oncall.coe_doc import (
    _FENCE,
    Block,
    BlockKind,
    Cell,
    CellLink,
    _is_rule,
    _pipe_cells,
    blocks_from_markdown,
)
from oncall.errors import ConfigError
from oncall.gap_render import TITLE_LIMIT
from oncall.models import Incident
from oncall.settings import Settings

BRANCH_PREFIX = "oncall-flows/coe/"
MARKER = "oncall-flows:coe"
ID_LIMIT = 60  # characters of the incident id kept in the branch name
SLUG_LIMIT = 60
LINE_LIMIT = 5_000  # per line of a value, after escaping
BODY_LIMIT = 65_536
_UNSAFE_ID = re.compile(r"[^a-z0-9_-]+")
_UNSAFE_SLUG = re.compile(r"[^a-z0-9]+")
# What starts a block at the start of a line (and so inside a value whose lines are kept), that
# `escape.md` leaves alone because it escapes inline text: a list item, a setext underline or a
# thematic break (`-`, `+`, `=`), an ordered list item (`1.`, `1)`).
_BLOCK_START = re.compile(r"^(?:[-+=]|\d{1,9}(?=[.)]))")
# A URL an autolink `<…>` shows whole: RFC 3986's characters but `'`, none that ends it.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+", re.IGNORECASE)


def safe_id(incident_id: str) -> str:
    """The incident id as a piece of a branch name and a marker: lower-case ASCII letters,
    digits, `-` and `_` only (so no `..`, `/`, space, `.lock` or `@{`, which git refuses, and no
    two ids that a case-insensitive checkout would mix up), bounded; an id that had to change
    gets a digest of the original, so two ids never share a branch."""
    safe = _UNSAFE_ID.sub("-", incident_id.lower()).strip("-")[:ID_LIMIT].strip("-")
    if safe and safe == incident_id:
        return safe
    digest = hashlib.sha256(incident_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe}-{digest}" if safe else f"incident-{digest}"


def branch_name(incident_id: str) -> str:
    return f"{BRANCH_PREFIX}{safe_id(incident_id)}"


def coe_marker(incident_id: str) -> str:
    """Hidden at the top of the file: the file on the branch holding it means the commit was made."""
    return f"<!-- {MARKER} {safe_id(incident_id)} -->"


def slug(title: str) -> str:
    """A file name's words from a title: ASCII (accents dropped, other scripts left out),
    lower case, words joined by `-`, cut at a word's end; `incident` when nothing is left."""
    ascii_only = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = _UNSAFE_SLUG.sub("-", ascii_only.lower()).strip("-")
    if len(words) > SLUG_LIMIT:
        cut = words[: SLUG_LIMIT + 1]
        words = cut[: cut.rfind("-")] if "-" in cut else words[:SLUG_LIMIT]
    return words.strip("-") or "incident"


def postmortem_dir(settings: Settings) -> str:
    """ONCALL_COE_POSTMORTEM_DIR as a repository path: no leading or trailing `/`, no `..`."""
    folder = posixpath.normpath(settings.coe_postmortem_dir.strip().strip("/") or ".")
    if folder == ".":
        return ""
    if folder.split("/")[0] == "..":
        raise ConfigError(f"ONCALL_COE_POSTMORTEM_DIR {settings.coe_postmortem_dir!r} leaves the repository")
    return folder


def postmortem_repo(settings: Settings) -> str:
    repo = settings.coe_postmortem_repo or settings.github_repo
    if not repo:
        raise ConfigError(
            "ONCALL_COE_TARGET=markdown needs a repository: set ONCALL_COE_POSTMORTEM_REPO "
            "(or ONCALL_GITHUB_REPO) to owner/name"
        )
    return repo


def coe_day(incident: Incident, tz: str) -> str:
    """The incident's start date in the team's zone, as the file name begins."""
    return local(incident.start, tz).format("YYYY-MM-DD")


def coe_paths(folder: str, incident: Incident, tz: str) -> tuple[str, str]:
    """The file's path, and the one used when another file already has that name (two
    incidents of one day with one title): the same with the incident's safe id added."""
    stem = f"{coe_day(incident, tz)}-{slug(incident.message)}"
    return (
        posixpath.join(folder, f"{stem}.md"),
        posixpath.join(folder, f"{stem}-{safe_id(incident.id)}.md"),
    )


def _unblock(m: re.Match[str]) -> str:
    return f"{m.group()}\\" if m.group()[0].isdigit() else f"\\{m.group()}"


def _line(text: str) -> str:
    """One line of a value: GitHub-inline-safe, and not the start of a block either."""
    return _BLOCK_START.sub(_unblock, escape.md(text, LINE_LIMIT))


def md_value(text: str, *, in_table: bool = False) -> str:
    """A placeholder's value as GitHub markdown shown as typed: no mention pings, no issue
    links, no HTML, no emphasis, code, list, heading or table breakout. Lines are kept as hard
    line breaks (a trailing backslash), or as `<br>` inside a table row, which a line break
    would end. A value that is only an http(s) URL becomes an autolink."""
    if (url := _URL.fullmatch(text.strip())) is not None:
        return f"<{url.group()}>"
    lines = [_line(line) for line in text.split("\n")]
    lines = [line for line in lines if line]
    return ("<br>" if in_table else "\\\n").join(lines)


def md_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows of untrusted cells as a GitHub table: every cell escaped as a table row's value."""
    width = max(len(r) for r in rows)
    cells = [[md_value(c, in_table=True) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([lines[0], "|" + "---|" * width, *lines[1:]])


def render_markdown(
    template: str,
    values: dict[str, str],
    marker: str,
    tables: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> str:
    """The template filled for a markdown file, each value escaped for where it lands (in a
    table row or not), with the marker as the first line. A placeholder of `tables` alone on its
    line becomes that table, as it becomes a native table in a Doc."""
    out = []
    for line in template.split("\n"):
        alone = PLACEHOLDER.fullmatch(line.strip())
        if alone and tables and alone.group(1) in tables:
            out.append(md_table(tables[alone.group(1)]))
            continue
        in_table = line.lstrip().startswith("|")
        out.append(fill(line, {k: md_value(v, in_table=in_table) for k, v in values.items() if k in line}))
    return f"{marker}\n" + "\n".join(out)


def pull_title(name: str) -> str:
    """`COE 2026-11-21 <title>`, as the Google Doc would be named, as plain text GitHub links nothing in."""
    return escape.plain(name, TITLE_LIMIT)


def commit_message(incident_id: str) -> str:
    return escape.plain(f"COE for incident {incident_id}", 200)


def pull_body(values: dict[str, str], path: str) -> str:
    """What reviewers read first: what the file is, and what is left for the team to write."""
    body = "\n".join(
        [
            f"The COE for incident {md_value(values['incident.id'])} ({md_value(values['incident.priority'])}, "
            f"{md_value(values['incident.duration'])}), in `{escape.cut(path, 300)}`. Incident: "
            f"{md_value(values['incident.link'])}.",
            "",
            "The data is filled in. Write the analysis, the five whys and the corrective actions on "
            "this branch, then mark the pull request ready for review: the review meeting reads it here.",
            "",
            "_Opened by oncall-flows coe-prep._",
        ]
    )
    return escape.cut(body, BODY_LIMIT - 100)


# -- coe-review's side: the file read back, and the issue links written into it ----------------

_BODY_PATH = re.compile(r"in `([^`\n]+\.md)`")
_BODY_PRIORITY = re.compile(r"The COE for incident .*? \((P[1-5]), ")
_TITLE_DAY = re.compile(r"COE (\d{4}-\d{2}-\d{2})\b")
_ON_CALL = re.compile(r"^- On call at the start: (.+?)\s*$", re.MULTILINE)
_UNESCAPE = re.compile(r"\\(.)")
_CELL_LINK = re.compile(r"\[([^\]\n]*)\]\((\S+?)\)")


def branch_marker(branch: str) -> str:
    """The marker in the file on a COE branch (`oncall-flows/coe/<safe id>`): the same as
    `coe_marker` of the incident, read from the branch alone (a tracker-less run knows no id)."""
    return f"<!-- {MARKER} {branch.removeprefix(BRANCH_PREFIX)} -->"


def body_path(body: str) -> str | None:
    """The COE file's path as `pull_body` names it; None when a person rewrote the body."""
    m = _BODY_PATH.search(body)
    return m.group(1) if m else None


def title_day(title: str) -> str | None:
    """The incident's day as `pull_title` begins (`COE 2026-11-21 …`), for finding the file by marker."""
    m = _TITLE_DAY.match(title)
    return m.group(1) if m else None


def body_priority(body: str) -> str | None:
    m = _BODY_PRIORITY.search(body)
    return m.group(1) if m else None


def file_on_call(text: str) -> str:
    """Who was on call, as the file's overview says (unescaped for the agenda, which escapes)."""
    m = _ON_CALL.search(text)
    return _UNESCAPE.sub(r"\1", m.group(1)) if m else ""


def _table_lines(text: str) -> list[list[tuple[int, str]]]:
    """Each pipe table's rows (rules left out) as (offset of the line in `text`, line), read as
    `blocks_from_markdown` reads them: a fenced block's pipe lines are text."""
    runs: list[list[tuple[int, str]]] = []
    run: list[tuple[int, str]] = []
    fence: str | None = None
    offset = 0
    for line in text.split("\n"):
        cells = _pipe_cells(line) if fence is None else None
        if cells is not None:
            if not _is_rule(cells):
                run.append((offset, line))
        else:
            if run:
                runs.append(run)
                run = []
            if m := _FENCE.match(line):
                marker = m.group(1)[0]
                fence = marker if fence is None else (None if fence == marker else fence)
        offset += len(line) + 1
    if run:
        runs.append(run)
    return runs


def _cell_starts(offset: int, line: str) -> list[int]:
    """Where each cell of a pipe row starts in the text: right after its opening `|`."""
    body = line.rstrip()
    pipes = [i for i, c in enumerate(body) if c == "|"]
    return [offset + p + 1 for p in (pipes[:-1] if body.endswith("|") else pipes)]


def _cell_end(text: str, start: int) -> int:
    """Where the cell starting at `start` ends: its closing `|`, or the end of its line."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end == -1 else line_end
    end = text.find("|", start, line_end)
    return line_end if end == -1 else end


def _linked(cell: Cell) -> Cell:
    """A cell's markdown links (`[owner/repo#12](url)`) as Docs reads a linked cell: the label as
    its text, the target among its links."""
    found = _CELL_LINK.findall(cell.text)
    if not found:
        return cell
    return cell.model_copy(
        update={
            "text": _CELL_LINK.sub(lambda m: m.group(1), cell.text),
            "links": (*cell.links, *(url for _, url in found)),
        }
    )


def indexed_blocks(text: str) -> tuple[Block, ...]:
    """The file as `blocks_from_markdown` reads it, each table cell's `start_index` the offset
    in `text` where it starts (what `link_cells` writes at), and its links read as Docs reads a
    cell's. A table whose lines do not read back as the same cells stays without indexes, so
    nothing is written into it."""
    blocks = list(blocks_from_markdown(text))
    tables = [i for i, b in enumerate(blocks) if b.kind is BlockKind.TABLE]
    runs = _table_lines(text)
    for at, run in zip(tables, runs, strict=True) if len(tables) == len(runs) else ():
        block = blocks[at]
        rows: list[tuple[Cell, ...]] = []
        for (offset, line), cells in zip(run, block.rows, strict=False):
            starts = _cell_starts(offset, line)
            if len(starts) != len(cells) or any(
                text[s : _cell_end(text, s)].strip() != c.text for s, c in zip(starts, cells, strict=True)
            ):
                break
            rows.append(
                tuple(c.model_copy(update={"start_index": s}) for s, c in zip(starts, cells, strict=True))
            )
        indexed = rows if len(rows) == len(block.rows) == len(run) else list(block.rows)
        blocks[at] = block.model_copy(update={"rows": tuple(tuple(_linked(c) for c in r) for r in indexed)})
    return tuple(blocks)


def file_blocks(text: str) -> tuple[Block, ...]:
    """A COE file as coe-review reads it: `indexed_blocks`, without coe-prep's marker line (no
    part of the COE, so no section the template lacks)."""
    return tuple(
        b
        for b in indexed_blocks(text)
        if not (b.kind is BlockKind.PARAGRAPH and b.text.strip().startswith(f"<!-- {MARKER} "))
    )


def link_cells(text: str, links: Sequence[CellLink]) -> str:
    """`text` with each link written into the empty table cell starting at its index, as
    `[owner/repo#12](url)`: a link in a file, where GitHub links no bare `#12`. ValueError when a
    cell is not empty: the text is not the one the indexes were read from."""
    out = text
    for link in sorted(links, key=lambda c: c.index, reverse=True):
        end = _cell_end(out, link.index)
        if out[link.index : end].strip() or out[link.index - 1 : link.index] != "|":
            raise ValueError(f"the table cell at {link.index} is not the empty one read")
        out = f"{out[: link.index]} [{link.text}]({link.url}) {out[end:]}"
    return out


def links_message(count: int) -> str:
    return escape.plain(f"COE: link {count} corrective-action issue(s)", 200)
