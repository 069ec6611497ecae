"""The one throttling policy of the chat bots: one request per person every `user_cooldown_s` seconds.

Answering every message of someone who taps quickly would queue a pile of replies (and model work), so a
request that comes too soon is refused.  The first refusal in a window is answered with a short "slow down";
later ones are dropped, because one answer says what happened without adding to the pile.  Only requests
that cost work count (a mood, "songs like", /add); help and menus never do.

Telegram applies `Throttle` to every update before its handlers.  Discord's slash commands use discord.py's
own `dynamic_cooldown` with the same `rate` and `per` (Discord insists on an answer to every interaction, so
there each refusal is answered); mentions and DMs use `Throttle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["Throttle", "Verdict"]

#: People forgotten once this many are remembered (those whose window is over), so the map stays small.
_FORGET_AFTER = 10_000


@dataclass(frozen=True)
class Verdict:
    """Whether a request may run now; if not, how long to wait and whether to say so (`warn`)."""

    allowed: bool
    retry_after: float = 0.0
    warn: bool = False


class Throttle:
    """`rate` requests per person every `per` seconds (`per` <= 0: no throttling)."""

    rate = 1

    def __init__(self, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per = per
        self.clock = clock
        self._last: dict[Hashable, float] = {}
        self._warned: set[Hashable] = set()

    @property
    def active(self) -> bool:
        return self.per > 0

    def check(self, who: Hashable) -> Verdict:
        """Record a request by `who` and say whether it may run (the refusal is `warn`ed once per window)."""
        if not self.active:
            return Verdict(True)
        now = self.clock()
        last = self._last.get(who)
        if last is not None and now - last < self.per:
            warn = who not in self._warned
            self._warned.add(who)
            return Verdict(False, self.per - (now - last), warn)
        self._last[who] = now
        self._warned.discard(who)
        if len(self._last) > _FORGET_AFTER:
            horizon = now - self.per
            self._last = {key: at for key, at in self._last.items() if at >= horizon}
            self._warned &= set(self._last)
        return Verdict(True)
