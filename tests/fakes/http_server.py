"""A local HTTP server (aiohttp, in a background thread) standing in for the web in link tests.

It serves the committed audio fixtures, redirects, hostile responses (2 GB advertised, endless, slow, a gzip
bomb, web pages where audio was promised), and Deezer-API-like, Spotify-oEmbed-like and Spotify-page-like
answers.  It runs in its own thread and event loop so that both async tests and the synchronous CLI (which
runs `asyncio.run` itself) can talk to it.  Nothing here touches the internet.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from aiohttp import web

AUDIO = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
CONTENT_TYPES = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
                 ".wav": "audio/wav", ".m4a": "audio/mp4"}
#: A syntactically valid ID3v2 header: the body "looks like" audio, so only the byte cap can stop it.
ID3_HEAD = b"ID3\x04\x00\x00\x00\x00\x00\x00"


class FakeWeb:
    """`with FakeWeb() as web: web.url("/audio/pad_a.mp3")`.

    `sent[route]` counts body bytes the server managed to write (to show a capped client stopped early),
    `hits[path]` counts requests, `deezer` / `spotify` hold the fake catalogues (editable by tests),
    `fail_next[path]` lists the error statuses `/flaky/...` answers (one per request) before serving the file.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.sent: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.fail_next: dict[str, list[int]] = {}  # path -> statuses `/flaky/...` answers before the file
        self.slow_interval_s = 0.5
        self.requests: list[tuple[str, str]] = []  # (path, Host header) of every request, in order
        self.deezer: dict[int, dict[str, Any]] = {}
        self.spotify: dict[str, dict[str, str]] = {}
        self.deezer_lists: dict[tuple[str, int], tuple[str, list[int]]] = {}  # (kind, id) -> (title, track ids)
        self.spotify_embeds: dict[tuple[str, str], str] = {}  # (kind, id) -> the embed page served
        self.playlists: dict[str, list[str]] = {}  # HLS media playlists: name -> segment URLs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "FakeWeb":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="fake-web", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake web server did not start")
        if self._error is not None:
            raise RuntimeError(f"fake web server failed: {self._error}")

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start_site())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _start_site(self) -> None:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/audio/{name}", self._audio)
        app.router.add_get("/files/{folder}/{name}", self._audio)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/chain/{n}", self._chain)
        app.router.add_get("/huge", self._huge)
        app.router.add_get("/endless", self._endless)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/gzip-bomb", self._gzip_bomb)
        app.router.add_get("/page.html", self._page)
        app.router.add_get("/page.mp3", self._page)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/flaky/{name}", self._flaky)
        app.router.add_get("/deezer/track/{id}", self._deezer_track)
        app.router.add_get("/deezer/search", self._deezer_search)
        app.router.add_get("/deezer/{kind:playlist|album}/{id}", self._deezer_list)
        app.router.add_get("/deezer/{kind:playlist|album}/{id}/tracks", self._deezer_list_tracks)
        app.router.add_get("/spotify/oembed", self._spotify_oembed)
        app.router.add_get("/spotify/track/{id}", self._spotify_page)
        app.router.add_get("/spotify/embed/{kind:playlist|album}/{id}", self._spotify_embed)
        app.router.add_get("/hls/{name}", self._hls_playlist)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server  # noqa: SLF001 - the only way to learn the port picked for 0
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    # ------------------------------------------------------------------ helpers
    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add_deezer(self, track_id: int, title: str, artist: str, *, album: str = "An Album", duration: int = 215,
                   preview: str | None = "/audio/pad_a.mp3") -> None:
        self.deezer[track_id] = {
            "id": track_id, "title": title, "duration": duration,
            "preview": self.url(preview) if preview else "",
            "link": f"https://www.deezer.com/track/{track_id}",
            "artist": {"id": 1, "name": artist}, "album": {"id": 2, "title": album},
        }

    def add_spotify(self, track_id: str, title: str, artist: str, album: str = "Some Album") -> None:
        self.spotify[track_id] = {"title": title, "artist": artist, "album": album}

    # ------------------------------------------------------------------ handlers
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.path_qs, request.headers.get("Host", "")))
        return await handler(request)

    async def _audio(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        name = request.match_info["name"]
        folder = request.match_info.get("folder")
        path = (AUDIO / name) if folder is None else (AUDIO.parent / folder / name)
        if not path.is_file() or ".." in name:
            return web.Response(status=404, text="not found")
        body = path.read_bytes()
        self.sent[request.path] += len(body)
        return web.Response(body=body, content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"))

    async def _redirect(self, request: web.Request) -> web.Response:
        self.hits["/redirect"] += 1
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def _chain(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        self.hits[f"/chain/{n}"] += 1
        location = f"/chain/{n - 1}" if n > 0 else "/audio/pad_b.mp3"
        return web.Response(status=301, headers={"Location": location})

    async def _stream_zeros(self, request: web.Request, route: str, content_length: int | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        if content_length is not None:
            response.content_length = content_length
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"\x00" * 65536
        try:
            await response.write(ID3_HEAD)
            self.sent[route] += len(ID3_HEAD)
            for _ in range(40_000):  # 2.6 GB at most: "endless" for any sane cap
                await response.write(chunk)
                self.sent[route] += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        self.hits["/huge"] += 1
        return await self._stream_zeros(request, "/huge", 2_000_000_000)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        self.hits["/endless"] += 1
        return await self._stream_zeros(request, "/endless", None)

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then one byte now and then: only a total time cap ends this."""
        self.hits["/slow"] += 1
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(ID3_HEAD)
            for _ in range(600):
                await asyncio.sleep(self.slow_interval_s)
                await response.write(b"\x00")
                self.sent["/slow"] += 1
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def _stall(self, request: web.Request) -> web.Response:
        """Accepts the connection and never answers."""
        self.hits["/stall"] += 1
        await asyncio.sleep(300)
        return web.Response(text="late")

    async def _gzip_bomb(self, request: web.Request) -> web.Response:
        self.hits["/gzip-bomb"] += 1
        body = gzip.compress(ID3_HEAD + b"\x00" * (50 * 1024 * 1024), compresslevel=9)
        return web.Response(body=body, headers={"Content-Type": "audio/mpeg", "Content-Encoding": "gzip"})

    async def _page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(text="<!DOCTYPE html><html><head><title>Not a song</title></head><body>hi</body></html>",
                            content_type="text/html")

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        self.hits[f"/status/{code}"] += 1
        return web.Response(status=code, text=f"status {code}")

    async def _flaky(self, request: web.Request) -> web.StreamResponse:
        statuses = self.fail_next.get(request.path)
        if statuses:
            self.hits[request.path] += 1
            return web.Response(status=statuses.pop(0), text="not now")
        return await self._audio(request)

    async def _deezer_track(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        track = self.deezer.get(int(request.match_info["id"]))
        if track is None:
            data: dict[str, Any] = {"error": {"type": "DataException", "message": "no data", "code": 800}}
        else:
            data = track
        return web.json_response(data)

    def add_deezer_list(self, kind: str, list_id: int, title: str, track_ids: list[int]) -> None:
        """A Deezer playlist or album of tracks added with `add_deezer` (other ids are served without a title)."""
        self.deezer_lists[(kind, list_id)] = (title, track_ids)

    def _deezer_list_of(self, request: web.Request) -> tuple[str, list[int]] | None:
        return self.deezer_lists.get((request.match_info["kind"], int(request.match_info["id"])))

    async def _deezer_list(self, request: web.Request) -> web.Response:
        found = self._deezer_list_of(request)
        if found is None:
            return web.json_response({"error": {"type": "DataException", "message": "no data", "code": 800}})
        return web.json_response({"id": int(request.match_info["id"]), "title": found[0], "nb_tracks": len(found[1])})

    async def _deezer_list_tracks(self, request: web.Request) -> web.Response:
        """Pages like Deezer's: `index` and `limit` (at most 25 here, so paging is exercised), `total`, `next`."""
        found = self._deezer_list_of(request)
        if found is None:
            return web.json_response({"error": {"type": "DataException", "message": "no data", "code": 800}})
        index, limit = int(request.query.get("index", 0)), min(int(request.query.get("limit", 25)), 25)
        page = found[1][index:index + limit]
        data: dict[str, Any] = {"data": [self.deezer.get(i, {"id": i}) for i in page], "total": len(found[1])}
        if index + limit < len(found[1]):
            data["next"] = "http://169.254.169.254/steal"  # a hostile `next`: the client must not follow it
        return web.json_response(data)

    async def _deezer_search(self, request: web.Request) -> web.Response:
        self.hits["/deezer/search"] += 1
        words = set(re.findall(r"\w+", request.query.get("q", "").lower()))  # fuzzy, like the real search
        found = [t for t in self.deezer.values()
                 if set(re.findall(r"\w+", f"{t['title']} {t['artist']['name']}".lower())) <= words]
        return web.json_response({"data": found, "total": len(found)})

    async def _spotify_oembed(self, request: web.Request) -> web.Response:
        self.hits["/spotify/oembed"] += 1
        link = request.query.get("url", "")
        track_id = urlparse(link).path.rstrip("/").rsplit("/", 1)[-1]
        track = self.spotify.get(track_id)
        if track is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response({
            "html": f"<iframe src=\"https://open.spotify.com/embed/track/{track_id}\"></iframe>",
            "width": 456, "height": 152, "version": "1.0", "provider_name": "Spotify",
            "provider_url": "https://spotify.com", "type": "rich", "title": track["title"],
            "thumbnail_url": "https://i.scdn.co/image/x",
        })

    async def _spotify_page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        track = self.spotify.get(request.match_info["id"])
        if track is None:
            return web.Response(status=404, text="gone")
        esc = {key: html.escape(value, quote=True) for key, value in track.items()}
        page = (
            "<!DOCTYPE html><html><head>"
            f"<meta property=\"og:title\" content=\"{esc['title']}\"/>"
            f"<meta property=\"og:description\" content=\"{esc['artist']} · {esc['album']} · Song · 2019\"/>"
            f"<meta name=\"music:musician_description\" content=\"{esc['artist']}\"/>"
            "</head><body></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    def add_spotify_list(self, kind: str, list_id: str, title: str, tracks: list[tuple[str, str, str]]) -> None:
        """A Spotify playlist or album embed page (the unofficial `__NEXT_DATA__` shape) listing
        (track id, title, artists) entries."""
        items = [{"uri": f"spotify:track:{tid}", "uid": f"u{n}", "title": name, "subtitle": artists,
                  "duration": 215000, "isExplicit": False, "isPlayable": True}
                 for n, (tid, name, artists) in enumerate(tracks)]
        entity = {"type": kind, "name": title, "uri": f"spotify:{kind}:{list_id}", "id": list_id, "trackList": items}
        self.spotify_embeds[(kind, list_id)] = spotify_embed_page(entity)

    async def _spotify_embed(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        page = self.spotify_embeds.get((request.match_info["kind"], request.match_info["id"]))
        if page is None:
            return web.Response(status=404, text="Page not found")
        return web.Response(text=page, content_type="text/html")

    async def _hls_playlist(self, request: web.Request) -> web.Response:
        """A minimal HLS media playlist whose segments are `playlists[name]` (any URLs, other hosts too)."""
        segments = self.playlists.get(request.match_info["name"])
        if segments is None:
            return web.Response(status=404, text="no such playlist")
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10", "#EXT-X-MEDIA-SEQUENCE:0"]
        for url in segments:
            lines += ["#EXTINF:5.0,", url]
        lines.append("#EXT-X-ENDLIST")
        return web.Response(text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl")


def spotify_embed_page(entity: dict[str, Any]) -> str:
    """A page shaped like Spotify's embed player (trimmed, synthetic): the Next.js data script holding `entity`
    at `props.pageProps.state.data.entity`."""
    data = {"props": {"pageProps": {"state": {"data": {"entity": entity},
                                              "settings": {"rtl": False, "session": {"isAnonymous": True}}}},
                      "__N_SSP": True},
            "page": "/{type}/{id}", "buildId": "fake", "isFallback": False}
    return ("<!DOCTYPE html><html><head><title>Spotify Embed</title></head><body><div id=\"__next\"></div>"
            "<script id=\"__NEXT_DATA__\" type=\"application/json\">"
            + json.dumps(data).replace("</", "<\\/") + "</script></body></html>")
