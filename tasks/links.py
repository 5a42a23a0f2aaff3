"""The task that checks the runbook links the alerts carry (oncall/clients/links.py does the work).

Links into the runbook's own repository are checked against what was read of it, other
files of that repository through the GitHub API (with the token, which goes to the API and
nowhere else); every other link gets one bounded, token-free HEAD (or GET) that never reaches
an internal address. Nothing here fails a run: a link that could not be looked at is unverified.
"""

from __future__ import annotations

from collections.abc import Callable

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from oncall.clients.links import LinkChecker
from oncall.clients.runbook_files import repo_file_reader
from oncall.links import LinkCheck, LinkStatus
from oncall.runbook import Runbook
from oncall.settings import Settings
from tasks.clients import clients


@task(cache_policy=NO_CACHE)
def check_runbook_links(settings: Settings, urls: list[str], runbook: Runbook) -> dict[str, LinkCheck]:
    """Whether each runbook link leads somewhere: ok, broken (a missing file or heading, a 404
    or 410) or unverified (an auth wall, a login page, a timeout, an address never fetched)."""
    if not urls:
        return {}
    with clients(settings) as run:
        read: Callable[[str], str | None] | None = None
        if runbook.repo and settings.github_token is not None:
            read = repo_file_reader(run.github, runbook)

        checker = LinkChecker(timeout=settings.http_timeout_seconds, max_in_flight=settings.max_concurrency)
        found = checker.check(urls, runbook, read)
    counts = {s: sum(1 for c in found.values() if c.status is s) for s in LinkStatus}
    get_run_logger().info(
        "Checked %d runbook link(s): %d ok, %d broken, %d unverified",
        len(found),
        counts[LinkStatus.OK],
        counts[LinkStatus.BROKEN],
        counts[LinkStatus.UNVERIFIED],
    )
    return found
