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

from oncall import escape
from oncall.clock import local
from oncall.coe import PLACEHOLDER, fill
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
_RULE = re.compile(r"\|(?: *:?-+:? *\|)+")
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


def _table_rows(text: str) -> list[list[str]] | None:
    """A value that is a pipe table (header, `|---|` rule, rows, as `oncall.coe` writes the
    timeline's, a cell's own `|` already replaced), as its rows of cells; None for any other."""
    lines = text.split("\n")
    if len(lines) < 2 or not all(line.startswith("|") and line.endswith("|") for line in lines):
        return None
    if not _RULE.fullmatch(lines[1]):
        return None
    return [[c.strip() for c in line[1:-1].split("|")] for line in lines[:1] + lines[2:]]


def md_table(rows: list[list[str]]) -> str:
    """Rows of untrusted cells as a GitHub table: every cell escaped as a table row's value."""
    width = max(len(r) for r in rows)
    cells = [[md_value(c, in_table=True) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([lines[0], "|" + "---|" * width, *lines[1:]])


def render_markdown(template: str, values: dict[str, str], marker: str) -> str:
    """The template filled for a markdown file, each value escaped for where it lands (in a
    table row or not; a table value alone on its line stays a table), with the marker as the
    first line."""
    out = []
    for line in template.split("\n"):
        alone = PLACEHOLDER.fullmatch(line.strip())
        if alone and (rows := _table_rows(values.get(alone.group(1), ""))) is not None:
            out.append(md_table(rows))
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
