"""A stand-in resolver for `links.client.GuardedClient`: fixed answers, no network, lookups counted."""

from __future__ import annotations

from moodtape.core.links.errors import Unreachable


class StubDNS:
    """host -> addresses; counts lookups; unknown names do not exist."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise Unreachable(f"{host} does not exist (no DNS record)")
        return list(self.table[host])
