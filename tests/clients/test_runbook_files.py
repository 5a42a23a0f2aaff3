"""Reading a runbook where teams keep it: a local file or folder, or a file or folder on GitHub
(one tree listing plus one read per markdown file, bounded in flight), against the fake."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest

from oncall.clients.github import GitHubClient
from oncall.clients.runbook_files import read_runbook, web_base
from oncall.errors import InputError
from oncall.retry import RetryPolicy
from oncall.runbook import Layout, RunbookSource
from oncall.sandbox.seed import RUNBOOK
from oncall.sandbox.server import Sandbox
from tests.conftest import FakeSleep
from tests.factories import FIXTURES

FOLDER = FIXTURES / "runbooks" / "files"
_repos = count(1)


def _markdown(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.suffix in (".md", ".markdown")
    }


@pytest.fixture
def repo(sandbox: Sandbox) -> str:
    """A repository holding the files-layout fixture under docs/runbooks, beside other files."""
    name = f"acme/runbooks-{next(_repos)}"
    files = sandbox.state.github.repo(name).files
    for path, text in _markdown(FOLDER).items():
        files[f"docs/runbooks/{path}@main"] = text
    files["docs/runbooks/.github/PULL_REQUEST_TEMPLATE.md@main"] = "# Template\n\n## Mitigation\n\nx\n"
    files["docs/other/Unrelated.md@main"] = "# Unrelated\n\n## Mitigation\n\nx\n"
    files["src/app.py@main"] = "print()\n"
    return name


def test_a_local_file_reads_as_one_runbook() -> None:
    book = read_runbook(RunbookSource.parse(str(RUNBOOK)))
    assert book.entries and book.url is None and book.repo is None
    assert set(book.anchors) == {""}


def test_a_local_folder_reads_as_one_file_per_alert_skipping_hidden_folders_and_node_modules(
    tmp_path: Path,
) -> None:
    root = tmp_path / "runbooks"
    shutil.copytree(FOLDER, root)
    for hidden in (".github/DecoyAlert.md", "node_modules/pkg/VendoredAlert.md", "etcd/.Draft.md"):
        (root / hidden).parent.mkdir(parents=True, exist_ok=True)
        (root / hidden).write_text("# DecoyAlert\n\n## Mitigation\n\nDo it.\n", encoding="utf-8")
    book = read_runbook(RunbookSource.parse(str(root)))  # today: "does not exist"
    assert book.layout is Layout.FILES
    assert set(book.anchors) == set(_markdown(FOLDER))
    names = {e.key for e in book.entries}
    assert "EtcdNoLeader" in names and "DecoyAlert" not in names
    assert {e.path for e in book.entries if e.key == "EtcdNoLeader"} == {"etcd/EtcdNoLeader.md"}


def test_bad_local_paths_are_refused_naming_them(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"runbook {tmp_path / 'gone.md'} does not exist"):
        read_runbook(RunbookSource.parse(str(tmp_path / "gone.md")))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no markdown here")
    (tmp_path / "empty" / "node_modules").mkdir()
    (tmp_path / "empty" / "node_modules" / "README.md").write_text("# pkg\n")
    with pytest.raises(InputError, match=rf"runbook folder {tmp_path / 'empty'} has no markdown"):
        read_runbook(RunbookSource.parse(str(tmp_path / "empty")))


def test_a_repository_file_is_one_read_with_its_blob_url(gh: GitHubClient, sandbox: Sandbox) -> None:
    source = RunbookSource.parse(f"{sandbox.state.runbook_repo}:{sandbox.state.runbook_path}@main")
    before = sandbox.app.count("github")
    book = read_runbook(source, github=lambda: gh)
    assert sandbox.app.count("github") - before == 1
    assert (book.repo, book.ref, book.root) == (
        sandbox.state.runbook_repo,
        "main",
        sandbox.state.runbook_path,
    )
    assert (
        book.url == f"https://github.com/{sandbox.state.runbook_repo}/blob/main/{sandbox.state.runbook_path}"
    )
    assert len(book.entries) == len(read_runbook(RunbookSource.parse(str(RUNBOOK))).entries)


def test_a_repository_folder_is_one_tree_listing_and_one_read_per_markdown_file(
    gh: GitHubClient, sandbox: Sandbox, repo: str
) -> None:
    before = (
        sandbox.app.count("github"),
        sandbox.app.count("github", "GET", f"/github/repos/{repo}/git/trees/"),
        sandbox.app.count("github", "GET", f"/github/repos/{repo}/contents/"),
    )
    book = read_runbook(
        RunbookSource.parse(f"{repo}:docs/runbooks@main"), github=lambda: gh, web_base="https://ghe.example"
    )
    trees = sandbox.app.count("github", "GET", f"/github/repos/{repo}/git/trees/") - before[1]
    reads = sandbox.app.count("github", "GET", f"/github/repos/{repo}/contents/docs/runbooks/") - before[2]
    assert (trees, reads) == (1, len(_markdown(FOLDER)))
    assert sandbox.app.count("github") - before[0] == 1 + len(_markdown(FOLDER))  # nothing else
    local = read_runbook(RunbookSource.parse(str(FOLDER)))
    assert book.entries == local.entries and book.anchors == local.anchors  # the hidden template is skipped
    assert (book.repo, book.ref, book.root, book.layout) == (repo, "main", "docs/runbooks", Layout.FILES)
    assert book.url == f"https://ghe.example/{repo}/tree/main/docs/runbooks"
    entry = next(e for e in book.entries if e.key == "EtcdNoLeader")
    assert book.link(entry) == f"https://ghe.example/{repo}/tree/main/docs/runbooks/etcd/EtcdNoLeader.md"


@pytest.mark.parametrize("bound", [1, 3])
def test_reads_in_flight_stay_within_the_bound(
    gh: GitHubClient, sandbox: Sandbox, repo: str, bound: int
) -> None:
    github = sandbox.state.github
    github.contents_latency, github.contents_peak = 0.02, 0
    try:
        read_runbook(
            RunbookSource.parse(f"{repo}:docs/runbooks@main"), github=lambda: gh, max_in_flight=bound
        )
    finally:
        github.contents_latency = 0.0
    assert github.contents_peak == bound  # reached, never passed


def test_no_ref_reads_the_default_branch(gh: GitHubClient, sandbox: Sandbox, repo: str) -> None:
    book = read_runbook(RunbookSource.parse(f"{repo}:docs/runbooks"), github=lambda: gh)
    assert book.ref == "main" and book.url == f"https://github.com/{repo}/tree/main/docs/runbooks"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("{repo}:docs/nope@main", "has no file or folder 'docs/nope'"),
        ("{repo}:docs/nope.md@main", "file docs/nope.md in {repo}@main was not found"),
        ("{repo}:src@main", "has no markdown files"),
        ("{repo}:docs/runbooks@gone", "was not found on GitHub"),
        ("acme/no-such-repo:docs@main", "was not found on GitHub"),
    ],
)
def test_bad_repository_paths_are_refused_naming_them(
    gh: GitHubClient, repo: str, where: str, message: str
) -> None:
    source = RunbookSource.parse(where.format(repo=repo))
    named = (
        "" if "{repo}@" in message else re.escape(str(source))
    )  # else the message names repo and ref itself
    said = re.escape(message.format(repo=repo))
    with pytest.raises(InputError, match=rf"runbook (folder )?{named}.*{said}"):
        read_runbook(source, github=lambda: gh)


def test_the_reader_imports_neither_prefect_nor_pygithub() -> None:
    """`oncall runbook check` on a local folder starts fast: neither is loaded until needed."""
    probe = (
        "import sys, oncall.clients.runbook_files; print(sorted({'prefect', 'github'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_task_reads_a_repository_folder_through_one_client(
    sandbox: Sandbox, repo: str, tmp_path: Path
) -> None:
    """The Prefect task is this reader with the settings' client, which it closes afterwards."""
    from prefect.logging import disable_run_logger

    from oncall.settings import Settings
    from tasks import github as github_tasks

    env = {k.removeprefix("ONCALL_").lower(): v for k, v in sandbox.env().items()}
    settings = Settings(**env, max_concurrency=2)  # type: ignore[arg-type]
    from oncall.clients import github as github_module

    closed: list[GitHubClient] = []

    class Counted(GitHubClient):
        def close(self) -> None:
            closed.append(self)
            super().close()

    with pytest.MonkeyPatch.context() as mp, disable_run_logger():
        mp.setattr(github_module, "GitHubClient", Counted)  # however the task builds its client
        book = github_tasks.read_runbook.fn(settings, f"{repo}:docs/runbooks@main")
        assert len(closed) == 1 and book.layout is Layout.FILES and book.repo == repo
        local = github_tasks.read_runbook.fn(settings, str(FOLDER))  # a local folder needs no client
        assert local.entries == book.entries and len(closed) == 1


def test_a_folder_read_through_faults_reads_every_file(
    sandbox: Sandbox, repo: str, fake_sleep: FakeSleep
) -> None:
    """5xx answers and answers cut mid-body on the tree and the reads: each read is retried on its own."""
    sandbox.app.reset(3)
    sandbox.faults("github", rate_5xx=0.2, rate_drop=0.1)
    with GitHubClient(
        sandbox.state.github.token,
        base_url=sandbox.github_url,
        write_interval=0,
        retry=RetryPolicy(attempts=5, base_delay=0),
        sleep=fake_sleep,
    ) as gh:
        book = read_runbook(RunbookSource.parse(f"{repo}:docs/runbooks@main"), github=lambda: gh)
    faulted = [s for s in sandbox.app.served if s.status != 200]
    sandbox.app.rates.clear()
    assert faulted  # the seed did fault some requests
    assert book.entries == read_runbook(RunbookSource.parse(str(FOLDER))).entries


def test_pages_are_shown_on_github_com_for_the_public_api_and_on_the_host_for_enterprise() -> None:
    assert web_base("https://api.github.com") == "https://github.com"
    assert web_base("https://ghe.example.com/api/v3/") == "https://ghe.example.com"
    assert web_base("http://127.0.0.1:8080/github") == "http://127.0.0.1:8080/github"
