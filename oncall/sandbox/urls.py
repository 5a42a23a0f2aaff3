"""Sandbox names and hosts: the fakes' public base URL, and names that cannot be mistaken for real ones.

The sandbox serves a real team's runbook text (MIT Open Learning's), but under a repository
name of its own: a demo's "Filed .../issues/3" must never look like an issue in someone's real
repository. Links the seeded records carry point at `sandbox.invalid`: `.invalid` is reserved
(RFC 2606) and never resolves, and the name says what it is.
"""

from __future__ import annotations

from starlette.requests import Request

SANDBOX_REPO = "example-org/ops-runbook"  # the fake GitHub's runbook repository
SANDBOX_WEB = "https://sandbox.invalid"  # the web host of links in seeded vendor records


def public_base(request: Request) -> str:
    """`http://127.0.0.1:PORT/github` for the GitHub fake: the mount prefix is part of every URL."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")
