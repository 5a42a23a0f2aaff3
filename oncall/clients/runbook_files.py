"""Read a runbook where a team keeps it: a local file or folder, or a file or folder on GitHub.

A plain function with no Prefect import: `oncall runbook check` runs it in a team's CI and must
start fast, so PyGithub is imported only for a repository source (by the caller's client).

A folder on GitHub is read with one recursive tree listing of the ref plus one contents read
per markdown file under it, at most `max_in_flight` at once. Walking it with the contents API
would cost a request per folder, and the tree already names every file. Hidden folders
(`.github`, `.git`) and `node_modules` hold templates and vendored pages, not entries: both a
local walk and a repository listing skip them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from oncall.errors import InputError, NotFoundError
from oncall.runbook import RUNBOOK_SUFFIXES, Runbook, RunbookSource, parse_runbook, parse_runbook_files

if TYPE_CHECKING:
    from oncall.clients.github import GitHubClient

SKIPPED_FOLDERS = frozenset({"node_modules"})  # and every hidden folder
SETTING = "ONCALL_RUNBOOK or the runbook parameter"


def web_base(api_base: str) -> str:
    """Where the runbook's pages are shown: github.com for the public API, the host itself for
    GitHub Enterprise (`https://HOST/api/v3`). Here rather than beside the client, so a check
    of a local checkout can name its pages without importing PyGithub."""
    if "api.github.com" in api_base:
        return "https://github.com"
    return api_base.rstrip("/").removesuffix("/api/v3")


def read_runbook(
    source: RunbookSource,
    *,
    github: Callable[[], GitHubClient] | None = None,
    web_base: str = "https://github.com",
    max_in_flight: int = 8,
    setting: str = SETTING,
) -> Runbook:
    """The runbook's entries, with where it was read (`repo`, `ref`, `root`, `url`) set.

    `github` builds (or hands over) the client for a repository source; the caller owns it and
    closes it. A missing path, a folder without markdown, or a runbook with no entries is an
    InputError naming the path, raised before anything is written anywhere; `setting` is where
    the caller took the runbook from, named in the errors that ask to change it."""
    if source.repo is None:
        return _local(source, setting)
    if github is None:
        raise InputError(f"runbook {source} is on GitHub, and no GitHub client was given to read it")
    return _on_github(source, github(), web_base, max(1, max_in_flight), setting)


def _skipped(relative: str) -> bool:
    """A file inside a hidden folder or node_modules, or itself hidden."""
    return any(part.startswith(".") or part in SKIPPED_FOLDERS for part in relative.split("/"))


def _is_markdown(path: str) -> bool:
    return path.lower().endswith(RUNBOOK_SUFFIXES)


def _read_local(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(
            f"runbook file {path} cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None


def _local(source: RunbookSource, setting: str) -> Runbook:
    path = Path(source.path).expanduser()
    if path.is_file():
        return parse_runbook(_read_local(path), source=str(path))
    if not path.is_dir():
        raise InputError(
            f"runbook {path} does not exist; set {setting} to a file, a folder or 'owner/repo:path@ref'"
        )
    files: dict[str, str] = {}
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in sorted(names):
            if _is_markdown(name) and not name.startswith("."):
                full = Path(folder, name)
                files[full.relative_to(path).as_posix()] = _read_local(full)
    if not files:
        raise InputError(f"runbook folder {path} has no markdown files ({', '.join(RUNBOOK_SUFFIXES)})")
    return parse_runbook_files(files, source=str(path))


def _on_github(
    source: RunbookSource, gh: GitHubClient, web_base: str, max_in_flight: int, setting: str
) -> Runbook:
    assert source.repo is not None
    repo, root = source.repo, source.path.strip("/")
    where = str(source)
    try:
        ref = source.ref or gh.default_branch(repo)
        placed = RunbookSource(repo=repo, path=root, ref=ref)
        if _is_markdown(root):  # a file: one read, no listing
            found = gh.file(repo, root, ref)
            if found is None:
                raise InputError(f"runbook file {root} in {repo}@{ref} was not found; check {setting}")
            book = parse_runbook(found[0], source=where)
            return _placed(book, placed, web_base, folder=False)
        paths = gh.tree(repo, ref)
    except NotFoundError:
        raise InputError(
            f"runbook {where} was not found on GitHub: check the repository and ref, and that the token can see it"
        ) from None
    prefix = f"{root}/" if root else ""
    if root in paths:
        found = gh.file(repo, root, ref)
        return _placed(parse_runbook(found[0] if found else "", source=where), placed, web_base, folder=False)
    markdown = [
        p for p in paths if p.startswith(prefix) and _is_markdown(p) and not _skipped(p[len(prefix) :])
    ]
    if not markdown:
        if not any(p.startswith(prefix) for p in paths):
            raise InputError(f"runbook {where} does not exist: {repo}@{ref} has no file or folder {root!r}")
        raise InputError(f"runbook folder {where} has no markdown files ({', '.join(RUNBOOK_SUFFIXES)})")
    with ThreadPoolExecutor(min(max_in_flight, len(markdown)), thread_name_prefix="runbook-read") as pool:
        texts = list(pool.map(lambda p: gh.file(repo, p, ref), markdown))
    # A file gone between the listing and its read (the branch moved) is left out, as the next run reads it anew.
    files = {
        p[len(prefix) :]: found[0] for p, found in zip(markdown, texts, strict=True) if found is not None
    }
    return _placed(parse_runbook_files(files, source=where), placed, web_base, folder=True)


def _placed(book: Runbook, where: RunbookSource, web_base: str, *, folder: bool) -> Runbook:
    url = (where.web_url(web_base, folder=folder) or "").rstrip("/")
    return book.model_copy(update={"repo": where.repo, "ref": where.ref, "root": where.path, "url": url})


def repo_file_reader(client: Callable[[], GitHubClient], book: Runbook) -> Callable[[str], str | None] | None:
    """Other files of the runbook's repository, read at the runbook's ref when a link points
    outside what was read; None when nothing was read from GitHub. The client is asked for only
    when a file is, so a check with no such link opens none."""
    if not book.repo:
        return None
    repo, ref = book.repo, book.ref

    def read(path: str) -> str | None:
        found = client().file(repo, path, ref)
        return found[0] if found else None

    return read
