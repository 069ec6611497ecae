"""Links straight to an audio file on any web server: probed, sniffed, named from its tags or file name."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote

import httpx

from moodtape.core.audio.tags import read_tags
from moodtape.core.links.client import GuardedClient
from moodtape.core.links.content import SNIFF_BYTES, describe_content
from moodtape.core.links.errors import NotAudio
from moodtape.core.links.info import SUPPORTED, LinkInfo
from moodtape.core.text import split_artist_title

__all__ = ["DirectLinks"]


def _title_from_name(name: str) -> tuple[str | None, str]:
    stem = Path(unquote(name)).stem.replace("_", " ").strip() or "untitled"
    return split_artist_title(stem)


class DirectLinks:
    """Any http(s) link that is not a known service: it must lead to an audio file we can sniff."""

    def __init__(self, client: GuardedClient) -> None:
        self.client = client

    async def resolve(self, url: httpx.URL) -> LinkInfo:
        """Metadata from the first bytes only: the container, then tags or the file name."""
        probe = await self.client.probe_audio(url)
        if probe.container is None:
            raise NotAudio(f"that link gives {describe_content(probe.head[:SNIFF_BYTES], probe.content_type)}, "
                           f"not audio; send {SUPPORTED}")
        name = probe.filename or Path(unquote(httpx.URL(probe.url).path)).name or "audio"
        if not Path(name).suffix:
            name += f".{probe.container}"
        artist, title = _title_from_name(name)
        album = None
        # Tags sit at the start of most files (ID3v2, FLAC and Vorbis comments): read them from the probe.
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="moodtape-probe-"))
        try:
            head_file = folder / re.sub(r"[^\w.\- ]", "_", name)[:120]
            await asyncio.to_thread(head_file.write_bytes, probe.head)
            tags = await asyncio.to_thread(read_tags, head_file)
            if tags.title and tags.title != head_file.stem.replace("_", " "):
                title, artist, album = tags.title, tags.artist or artist, tags.album
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        canonical = str(url.copy_with(fragment=None))
        return LinkInfo(service="the web", kind="direct", url=canonical, external_id=f"url:{canonical}",
                        title=title, artist=artist, album=album)

    async def download(self, url: str | httpx.URL, folder: Path) -> Path:
        """The file, streamed into `folder` with every guard of the client."""
        return (await self.client.download_audio(url, folder)).path
