"""Links shared by people: which track a link is, adding it to the catalogue, and fetching its audio safely.

`LinkService` (links.service) is the door; one module per provider (deezer, spotify, ytdlp, direct) does the
service-specific work.  Every request goes through `GuardedClient` (links.client), which refuses private and
metadata addresses (links.addresses), caps and sniffs bodies (links.body, links.content); yt-dlp, which does
its own networking, is fenced in by a filtering proxy (links.egress_proxy).  Every failure is a `NetError`
(links.errors) whose `transient` flag tells the scheduler whether a retry may help.
"""

from moodtape.core.links.addresses import AddressPolicy
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.errors import (
    BadLink,
    BadScheme,
    HttpStatusError,
    NetError,
    NotAudio,
    RefusedAddress,
    ServiceError,
    TimedOut,
    TooBig,
    TooManyRedirects,
    UnexpectedContent,
    Unreachable,
)
from moodtape.core.links.info import SUPPORTED, LinkInfo
from moodtape.core.links.service import LinkAddResult, LinkCollection, LinkService, looks_like_link

__all__ = [
    "LinkService",
    "LinkInfo",
    "LinkAddResult",
    "LinkCollection",
    "looks_like_link",
    "SUPPORTED",
    "GuardedClient",
    "AddressPolicy",
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
]
