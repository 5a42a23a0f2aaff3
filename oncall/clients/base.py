"""What every source client shares: it owns HTTP clients and closes them, also as a context manager."""

from __future__ import annotations

from typing import Self

from oncall.clients.http import ApiClient


class SourceClient:
    def _clients(self) -> list[ApiClient]:
        """The HTTP clients this source opened; `close` closes each."""
        raise NotImplementedError

    def close(self) -> None:
        for client in self._clients():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
