"""`oncall runbook check`: read the runbook, the titles and the rule files, check the links, print.

It runs in a team's CI, with no Prefect server, so it imports no Prefect and loads PyGithub
and the settings only when the runbook is on GitHub or a rule links somewhere. The local
inputs (titles, rule files) are read before the runbook, so a typo fails in a moment and
before any network call. Decisions live in `oncall.runbook_check`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from oncall.errors import ConfigError, InputError
from oncall.escape import terminal
from oncall.runbook import Runbook, RunbookSource
from oncall.runbook_check import (
    CheckResult,
    check_rules,
    check_titles,
    exit_code,
    links_to_check,
    list_entries,
    parse_rules,
    render_listing,
    render_results,
)

if TYPE_CHECKING:
    from oncall.clients.github import GitHubClient
    from oncall.links import LinkCheck
    from oncall.settings import Settings


def run_check(
    runbook: str,
    *,
    titles: str | None = None,
    rules: Sequence[str] = (),
    fmt: str = "text",
    repo: str | None = None,
    out: TextIO | None = None,
) -> int:
    """0 when nothing is a gap or a broken link, 1 when something is; bad input raises InputError."""
    out = out or sys.stdout
    source = RunbookSource.parse(runbook)
    title_list = read_titles(titles) if titles else []
    alerts = [a for path in rules for a in parse_rules(read_text(path, "rules file"), path)]
    with ExitStack() as stack:
        github = _GitHub(stack)
        book = read_book(source, github)
        if repo:
            book = as_checkout(book, source, repo, github.web_base())
        if titles is None and not rules:
            entries = list_entries(book)
            if fmt == "json":
                _emit(out, _json_lines([e.model_dump() for e in entries]))
            else:
                _emit(out, render_listing(book, entries) + "\n")
            return 0
        from oncall.coverage import Matcher

        matcher = Matcher(book)
        urls = links_to_check(alerts)
        reader = checkout_reader(Path.cwd()) if repo else github.file_reader(book)
        links = check_links(urls, book, reader) if urls else {}
        results: list[CheckResult] = check_titles(matcher, title_list) + check_rules(matcher, alerts, links)
    if fmt == "json":
        _emit(out, _json_lines([r.json_line() for r in results]))
    else:
        header = f"Runbook {terminal(book.source)}: {len(book.entries)} entries\n\n"
        _emit(out, header + render_results(results) + "\n")
    return exit_code(results)


def _json_lines(objects: list[dict[str, object]]) -> str:
    # ASCII JSON: a control character in runbook text is `\u001b` here, never a terminal escape.
    return "".join(json.dumps(o) + "\n" for o in objects)


def _emit(out: TextIO, text: str) -> None:
    """Write it all; a reader that stopped early (`| head`) changes nothing about the exit code."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


def read_text(path: str, what: str) -> str:
    """A local text file, or an InputError naming it and what is wrong with it."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{what} {path} is a folder, not a file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"{what} {path} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text") from None
    if "\x00" in text:
        raise InputError(f"{what} {path} is not text (it holds NUL bytes)")
    return text


def read_titles(path: str) -> list[str]:
    """One alert title per line; blank lines are skipped."""
    return [line.strip() for line in read_text(path, "titles file").splitlines() if line.strip()]


class _GitHub:
    """One GitHub client for the whole check, made on first need (a local runbook with no
    in-repo links never loads PyGithub or the settings), closed with the check."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._client: GitHubClient | None = None
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from oncall.settings import load_settings

            self._settings = load_settings()
        return self._settings

    def client(self) -> GitHubClient:
        """Built by the wiring, as every flow's and doctor's is: the same timeout, attempts and
        requests in flight from the settings."""
        if self._client is None:
            from oncall.wiring import Clients

            s = self.settings
            if s.github_token is None or not s.github_token.get_secret_value():
                # Not the settings' own message: this command never reads Prefect's Secret blocks.
                raise ConfigError(
                    "this runbook is on GitHub: set ONCALL_GITHUB_TOKEN to a token that can read it"
                )
            self._client = self._stack.enter_context(Clients(s)).github()
        return self._client

    def web_base(self) -> str:
        from oncall.clients.runbook_files import web_base

        return web_base(self.settings.github_base_url)

    def file_reader(self, book: Runbook) -> Callable[[str], str | None] | None:
        """Reads other files of the runbook's repository, for links that point outside what was read."""
        from oncall.clients.runbook_files import repo_file_reader

        return repo_file_reader(self.client, book)


def as_checkout(book: Runbook, source: RunbookSource, repo: str, web_base: str) -> Runbook:
    """A local runbook known as the folder of a checkout of `repo`, run from the checkout's root:
    links into `repo` are then checked against these files (the change under review), never
    against GitHub's default branch, which a private repository hides behind a 404."""
    if source.repo:
        raise InputError(f"--repo is for a local checkout; runbook {source} is read from GitHub already")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise InputError(f"--repo {repo} is not owner/name")
    top, where = Path.cwd().resolve(), Path(source.path).resolve()
    if where != top and top not in where.parents:
        raise InputError(
            f"runbook {source} is outside {top}; with --repo, run the check from the checkout's root"
        )
    root = where.relative_to(top).as_posix() if where != top else ""
    url = RunbookSource(repo=repo, path=root).web_url(web_base, folder=where.is_dir())
    return book.model_copy(update={"repo": repo, "root": root, "url": url})


def checkout_reader(top: Path) -> Callable[[str], str | None]:
    """Other files of the checkout, for links that point outside the runbook; None when absent."""
    top = top.resolve()

    def read(path: str) -> str | None:
        target = (top / path).resolve()
        if top not in target.parents or not target.is_file():
            return None
        return target.read_text(encoding="utf-8", errors="replace")

    return read


def read_book(source: RunbookSource, github: _GitHub) -> Runbook:
    from oncall.clients.runbook_files import read_runbook

    if source.repo:
        return read_runbook(source, github=github.client, web_base=github.web_base(), setting="RUNBOOK")
    return read_runbook(source, setting="RUNBOOK")


def check_links(
    urls: list[str], book: Runbook, read_repo_file: Callable[[str], str | None] | None
) -> dict[str, LinkCheck]:
    from oncall.clients.links import LinkChecker

    return LinkChecker().check(urls, book, read_repo_file)
