"""Why a link could not be used: one `NetError` family for every fetch, API call and yt-dlp run.

They are `UserError`s, so their message is shown to the person as is, and `transient` (from the root
`MoodtapeError`) tells the scheduler whether retrying later may help: a timeout or an unreachable host may
pass, a refused address or a web page where audio was promised will not.
"""

from __future__ import annotations

import httpx

from moodtape.core.errors import UserError

__all__ = [
    "NetError",
    "BadLink",
    "BadScheme",
    "RefusedAddress",
    "TooBig",
    "TimedOut",
    "NotAudio",
    "UnexpectedContent",
    "TooManyRedirects",
    "HttpStatusError",
    "Unreachable",
    "ServiceError",
    "host_of",
]


class NetError(UserError):
    """A link that could not be fetched; `transient` says whether a later retry may succeed."""

    transient = False


class BadLink(NetError):
    """Not a URL we can fetch (malformed, credentials in it)."""


class BadScheme(NetError):
    """A scheme other than http/https (file:, ftp:, gopher:, ...)."""


class RefusedAddress(NetError):
    """The host resolves to an address we never connect to (private, loopback, metadata, ...)."""


class TooBig(NetError):
    """The body is (or announces to be) over the byte cap."""


class TimedOut(NetError):
    """The server, or the whole operation, took longer than allowed; it may answer in time later."""

    transient = True


class NotAudio(NetError):
    """The content is not an audio container we recognise (a web page, JSON, an image, ...)."""


class UnexpectedContent(NetError):
    """An API answered with something we cannot read (not JSON, unsupported compression)."""


class TooManyRedirects(NetError):
    """The redirect chain is longer than the `max_redirects` setting allows."""


class HttpStatusError(NetError):
    """The server answered with an error status; overload and rate limits (408/425/429/5xx) are transient."""

    def __init__(self, status: int, reason: str, url: str) -> None:
        self.status = status
        super().__init__(f"{host_of(url)} answered {status} {reason}".rstrip(),
                         transient=status in (408, 425, 429) or status >= 500)


class Unreachable(NetError):
    """No DNS answer or no connection: often a passing network problem, so worth a retry."""

    transient = True


class ServiceError(NetError):
    """A site's yt-dlp extractor refused or failed (video unavailable, private, geo-blocked, ...)."""


def host_of(url: str | httpx.URL) -> str:
    """The host of `url` for a message, or the start of the text when it is not a URL at all."""
    try:
        return httpx.URL(str(url)).host or str(url)[:60]
    except Exception:  # a URL we could not parse: show a bit of it
        return str(url)[:60]
