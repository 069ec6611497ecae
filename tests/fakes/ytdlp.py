"""A stand-in for `yt_dlp.YoutubeDL` (tests never reach YouTube & co.).

It records the options it was built with and answers `extract_info` from a table of info dicts shaped like
yt-dlp's, so the code around yt-dlp (host checks, playlist/duration refusals, which downloader is used, the
temporary files) runs for real.  `process_ie_result` "downloads" by copying a fixture file to the output
template, as yt-dlp's own downloader would for a segmented (HLS) format.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


class FakeYoutubeDL:
    built: list[dict[str, Any]] = []

    def __init__(self, params: dict[str, Any], infos: dict[str, dict[str, Any]], files: dict[str, Path]) -> None:
        self.params = params
        self.infos = infos
        self.files = files
        FakeYoutubeDL.built.append(params)

    def __enter__(self) -> "FakeYoutubeDL":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def extract_info(self, url: str, download: bool = True, **_: Any) -> dict[str, Any]:
        from yt_dlp.utils import DownloadError

        assert download is False, "the code must never let yt-dlp download during extraction"
        if url not in self.infos:
            raise DownloadError(f"ERROR: [youtube] {url}: Video unavailable")
        return dict(self.infos[url])

    def process_ie_result(self, info: dict[str, Any], download: bool = True, **_: Any) -> dict[str, Any]:
        template = Path(self.params["outtmpl"]["default"])
        source = self.files[info["id"]]
        target = template.parent / template.name.replace("%(ext)s", info.get("ext", "bin"))
        shutil.copyfile(source, target)
        return info


def factory(infos: dict[str, dict[str, Any]], files: dict[str, Path] | None = None) -> Any:
    """What `LinkService(ytdlp_factory=...)` takes: options -> a fake YoutubeDL over `infos`."""
    return lambda params: FakeYoutubeDL(params, infos, files or {})
