"""The public base URL of a mounted fake, as clients must see it in `url` fields and links."""

from __future__ import annotations

from starlette.requests import Request


def public_base(request: Request) -> str:
    """`http://127.0.0.1:PORT/github` for the GitHub fake: the mount prefix is part of every URL."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")
