"""The one object every front end talks to.

Front ends parse input, call an `Engine` method and render what comes back; everything that decides what
to recommend lives behind this facade.  Models load lazily (first use, in a worker thread) so a bot starts in
a second and commands that need no model never pay for one.

The pipeline does not know the engine: `worker()` hands a scheduler worker the store, settings, device,
embedder and link opener it needs, and `on_queued` is where a scheduler running in this process listens, so
work queued here (an /add) runs at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Literal

from moodtape.core import demo
from moodtape.core.audio.decode import AudioError, printable
from moodtape.core.audio.sources import file_hash
from moodtape.core.config import Settings
from moodtape.core.device import resolve_device
from moodtape.core.errors import QueryError, StorageError, UserError
from moodtape.core.links.service import LinkAddResult, LinkService, looks_like_link
from moodtape.core.mood.reader import MoodReader, MoodReading
from moodtape.core.mood.room import RoomMoods, RoomResult
from moodtape.core.mood.space import STRATEGIES
from moodtape.core.mood.tag_words import TagQuery, parse_tags
from moodtape.core.pipeline.embedding import EmbedReport, TrackEmbedder, due_tracks, embed_tracks
from moodtape.core.pipeline.importer import ImportReport, import_file
from moodtape.core.pipeline.ingest import AddReport, add_files
from moodtape.core.pipeline.link_batch import LinkReport, OnTrack, add_link_batch
from moodtape.core.pipeline.overview import JobsOverview, jobs_overview
from moodtape.core.pipeline.retry import retry_later
from moodtape.core.pipeline.worker import Worker
from moodtape.core.progress import Progress
from moodtape.core.recommend import continuation, taste
from moodtape.core.recommend.continuation import ContinueResult
from moodtape.core.recommend.hybrid import has_own_music, similar_to_audio, similar_tracks
from moodtape.core.recommend.mood_match import songs_for_mood
from moodtape.core.recommend.similar import MAX_ID, QueryRow, existing_file, find_track, query_text, track_id
from moodtape.core.recommend.title import (
    MAX_TITLE_CHARS,
    TitleIndexCache,
    TitleResult,
    mood_only,
    mood_steers,
    recommend_for_title,
)
from moodtape.core.results import (
    Catalogue,
    CatalogueStats,
    ChatResult,
    QueryMood,
    RecommendedTrack,
    SimilarQuery,
    SimilarResult,
)
from moodtape.core.text import clean_text
from moodtape.core.voice.result import VoiceResult
from moodtape.db.models import Track
from moodtape.db.open import open_store
from moodtape.db.store import Store, StoreError


class Engine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        # "cpu" and "cuda" are checked now (a GPU host without CUDA fails at start, not at the first song);
        # "auto" asks torch on first use, so commands that run no model never import it.
        self._device: str | None = None if settings.device == "auto" else resolve_device(settings.device)
        #: Called (no arguments) after tracks were queued for embedding; a scheduler in this process
        #: registers its `wake` here (`start_scheduler(..., on_queued=engine.on_queued)`), so an /add is
        #: embedded now rather than at the next interval.
        self.on_queued: list[Callable[[], None]] = []
        self._embedder: TrackEmbedder | None = None
        #: Seconds each model took to load ("emotion", "audio"), for `/metrics`.
        self.load_seconds: dict[str, float] = {}
        self._mood_reader: MoodReader | None = None
        self._demo: Store | None = None
        self._links: LinkService | None = None
        self._voice: Any = None  # core.voice.VoiceListener, made on the first voice note
        self._load_lock = asyncio.Lock()
        self._demo_lock = asyncio.Lock()  # concurrent first queries (a bot's updates) must build the demo once
        self._titles = TitleIndexCache()  # playlist names -> tracks, rebuilt when the playlists change
        #: The mood readings (never the texts) of recent messages per group chat or channel, for `/room`.
        self.rooms = RoomMoods()

    @classmethod
    async def open(cls, settings: Settings) -> "Engine":
        """Open the configured database; a database that cannot be used is a `StorageError` with the reason."""
        try:
            store = await open_store(settings.database, ann_min_tracks=settings.ann_min_tracks,
                                     ef_search=settings.pg_ef_search)
        except StoreError as exc:
            raise StorageError(str(exc)) from exc
        try:
            return cls(settings, store)
        except BaseException:  # e.g. a device setting this machine cannot honour: do not leak the connection
            await store.close()
            raise

    async def close(self) -> None:
        if self._demo is not None:
            await self._demo.close()
            self._demo = None
        if self._links is not None:
            await self._links.aclose()
            self._links = None
        await self.store.close()

    async def __aenter__(self) -> "Engine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def device(self) -> str:
        """The torch device models run on ("cpu" or "cuda"), resolved from the setting on first use."""
        if self._device is None:
            self._device = resolve_device(self.settings.device)
        return self._device

    # ------------------------------------------------------------------ components
    async def embedder(self) -> TrackEmbedder:
        async with self._load_lock:
            if self._embedder is None:
                began = time.perf_counter()
                self._embedder = await asyncio.to_thread(TrackEmbedder, self.settings, self.device)
                self.load_seconds["audio"] = time.perf_counter() - began
            return self._embedder

    async def _reader(self) -> MoodReader:
        async with self._load_lock:
            if self._mood_reader is None:
                began = time.perf_counter()
                self._mood_reader = await asyncio.to_thread(MoodReader, self.settings, self.device)
                self.load_seconds["emotion"] = time.perf_counter() - began
            return self._mood_reader

    async def load_models(self) -> None:
        """Load the chat's emotion model now rather than on the first message (a service's readiness check
        waits for it; a model that cannot load is then an error at start, not at a user's first message)."""
        await self._reader()

    @property
    def models_loaded(self) -> bool:
        return self._mood_reader is not None

    async def catalogue(self, need: Literal["audio", "mood"] = "audio") -> tuple[Store, Catalogue]:
        """The store a query runs against: the user's database, or the bundled demo while the database has
        nothing to answer it with.

        `need` says what the query compares: "audio" (songs like this: ready tracks or collaborative vectors
        will do) or "mood" (the chat: songs with a mood vector).  A database of imported playlists can
        answer `similar` through its collaborative vectors long before it has a single song with a mood, so
        the two are decided separately; demo ids live in their own range, so feedback still finds its track.
        """
        mode = self.settings.demo
        if mode == "never":
            return self.store, "database"
        if mode == "auto":
            own = (bool(await self.store.vector_versions("mood")) if need == "mood"
                   else await has_own_music(self.store))
            if own:
                return self.store, "database"
        return await self._demo_store(), "demo"

    async def _demo_store(self) -> Store:
        async with self._demo_lock:  # concurrent first queries (a bot's updates) must build it once
            if self._demo is None:
                self._demo = await demo.open_demo(self.settings.db_path)
            return self._demo

    def worker(self) -> Worker:
        """A scheduler worker on this engine's database, device, models (loaded on first use) and links."""
        return Worker(self.store, self.settings, device=self.device, embedder=self.embedder,
                      open_track=self._open_track)

    async def jobs(self, limit: int = 20) -> JobsOverview:
        """What `moodtape jobs` shows: the queue, what runs and failed, the tracks waiting (lists <= `limit`)."""
        return await jobs_overview(self.store, self.settings, limit=limit)

    # ------------------------------------------------------------------ links
    @property
    def links(self) -> LinkService:
        """Link resolution and guarded downloads (created on first use; tests may assign their own)."""
        if self._links is None:
            self._links = LinkService(self.settings)
        return self._links

    @links.setter
    def links(self, service: LinkService) -> None:
        self._links = service

    def _open_track(self, track: Track) -> AbstractAsyncContextManager[Path]:
        """The audio of a track, through whichever link service the engine has when the batch runs."""
        return self.links.open_track(track)

    # ------------------------------------------------------------------ catalogue changes
    def _queued(self) -> None:
        for callback in list(self.on_queued):
            callback()

    async def add_files(
        self,
        paths: list[Path],
        *,
        added_by: str | None = None,
        licence: str | None = None,
        embed: bool = True,
        progress: Progress | None = None,
        embed_progress: Progress | None = None,
    ) -> tuple[AddReport, EmbedReport | None]:
        """Record files as pending tracks, then embed them now (`embed`) or leave them to the scheduler.

        Known files given again that are still pending (a crash mid-batch, an earlier `--no-embed`) are
        embedded too (`report.resumed`): re-running the same command is how a person finishes a batch.
        """
        report = await add_files(
            self.store, paths, added_by=added_by, licence=licence,
            max_file_bytes=self.settings.max_file_bytes, progress=progress,
        )
        new = {track_id for track_id, _ in report.added}
        given = new | {track_id for track_id, _ in report.duplicates}
        pending = await self.store.list_tracks(status="pending", ids=given) if given else []
        report.resumed = [track.id for track in pending if track.id not in new]
        if not embed:
            if pending:
                self._queued()
            return report, None
        return report, await self.embed(pending, progress=embed_progress)

    async def add_link(self, url: str, *, added_by: str | None = None) -> LinkAddResult:
        """A shared link -> a catalogue track at once (pending, or metadata-only when no audio exists).

        The scheduler (woken through `on_queued`) or `moodtape embed` embeds it later; the result carries a
        sentence for the reply.
        """
        result = await self.links.add(self.store, url, added_by=added_by)
        if result.status == "pending":
            self._queued()
        return result

    async def add_links(self, urls: list[str], *, added_by: str | None = None, embed: bool = True,
                        progress: Progress | None = None, on_track: OnTrack | None = None) -> LinkReport:
        """Several links at once (`moodtape add URL...`, `/add`): an unusable link is reported with the reason
        and the others go on; a playlist or album link adds its tracks (capped by `max_tracks_per_link`);
        with `embed`, the new pending tracks are embedded now, like files."""
        report = await add_link_batch(self.links, self.store, urls, added_by=added_by,
                                      max_per_link=self.settings.max_tracks_per_link, on_track=on_track)
        wanted = report.pending_ids
        if not embed:
            if wanted:
                self._queued()
            return report
        report.embedded = await self.embed(await self.store.list_tracks(status="pending", ids=wanted),
                                           progress=progress)
        report.states = {t.id: (t.status, t.error) for t in (await self.store.get_tracks(wanted)).values()}
        return report

    async def embed_pending(self, limit: int | None = None, progress: Progress | None = None) -> EmbedReport:
        return await self.embed(await due_tracks(self.store, limit), progress=progress)

    async def embed(self, tracks: list[Track], progress: Progress | None = None) -> EmbedReport:
        """Embed now; link tracks are downloaded for it (then deleted), network trouble is retried later."""
        if not tracks:
            return EmbedReport()
        embedder = await self.embedder()
        return await embed_tracks(
            self.store, embedder, tracks, progress=progress, open_source=self._open_track,
            on_transient=retry_later(self.store, self.settings),
        )

    async def import_file(self, path: Path, progress: Progress | None = None) -> ImportReport:
        """A playlist or catalogue file; the importer refuses what it cannot read (missing, a FIFO, not UTF-8)."""
        return await import_file(self.store, path, progress=progress)

    async def feedback(self, track_id: int, user_ref: str, value: int, context: dict[str, Any] | None = None) -> None:
        """Store a 👍/👎 in whichever catalogue the recommendation came from (demo ids have their own range)."""
        if not 0 < track_id <= MAX_ID:  # forged button data: no such row can exist (and SQLite stops at 64 bits)
            raise QueryError("there is no such track any more")
        if value not in (1, -1):
            raise QueryError("feedback is 👍 or 👎")
        store = await self._demo_store() if demo.is_demo_id(track_id) else self.store
        if await store.get_track(track_id) is None:
            raise QueryError(f"there is no track #{track_id} any more")
        await store.add_feedback(track_id, user_ref, value, context)

    # ------------------------------------------------------------------ queries
    async def similar(self, query: str, k: int | None = None, *, paths: bool = False,
                      user_ref: str | None = None) -> SimilarResult:
        """Songs like a catalogue track (id, "artist - title", title words), a link, or (`paths`) a file.

        Only the CLI passes `paths=True`: a stranger's chat message must never make the server open its files
        (without it the file system is not even looked at). Anything else is searched as text (`query_text`).
        `user_ref`: the asking person, whose 👍/👎 re-rank the answer (`core.recommend.taste`); None: nobody's.
        """
        k = k or self.settings.default_k
        candidate = existing_file(query) if paths else None
        if candidate is not None:
            return await self.similar_to_file(candidate, k, user_ref=user_ref)
        text = query_text(query)
        wanted = track_id(text)  # a number is never a link
        if wanted is not None and self.settings.demo != "always":
            by_id = await self._similar_by_id(wanted, text, k, user_ref=user_ref)
            if by_id is not None:
                return by_id
        elif wanted is None and looks_like_link(text):
            return await self.similar_to_link(text, k, user_ref=user_ref)
        store, catalogue, track = await self._find_query_track(text)
        return await self._similar_to_track(store, track, k, SimilarQuery("track", text, catalogue, track),
                                            user_ref=user_ref)

    async def _similar_by_id(self, wanted: int, text: str, k: int, *, user_ref: str | None
                             ) -> SimilarResult | None:
        """`similar` by the id of a ready track of the database, its row read after the search with its
        neighbours' (`QueryRow`: one keyed read fewer, ~50 us of a 1.2 ms reply at a million tracks); None
        when that is not what the id names (no such track here, not ready, a demo id): the general way then
        answers, or says why, as if this had not been tried."""
        row = QueryRow(wanted)
        try:
            tracks = await self._similar_tracks(self.store, row, k, user_ref=user_ref)
        except QueryError:
            return None
        if row.track is None or row.track.status != "ready":
            return None
        return SimilarResult(query=SimilarQuery("track", text, "database", row.track), tracks=tracks)

    async def _find_query_track(self, text: str) -> tuple[Store, Catalogue, Track]:
        """The catalogue track a query names, and the store and catalogue it is in.

        In `auto` mode a ready track of the database answers at once: the database then has music of its own,
        which is what `catalogue()` would find out by counting every ready track (tens of ms at a million).
        Anything else (no such track, or one that is not ready) takes the general way through `catalogue()`,
        which looks the query up again only when the answer is another store (the demo).
        """
        track: Track | None = None
        if self.settings.demo == "auto":
            try:
                track = await find_track(self.store, text)
            except QueryError:
                track = None
            if track is not None and track.status == "ready":
                return self.store, "database", track
        store, catalogue = await self.catalogue()
        if track is not None and store is self.store:
            return store, catalogue, track
        return store, catalogue, await find_track(store, text)

    async def similar_to_link(self, url: str, k: int | None = None, *, user_ref: str | None = None) -> SimilarResult:
        """Songs like the track behind a link: the catalogue's copy when there is one, else its audio,
        downloaded and embedded on the fly and deleted right after."""
        k = k or self.settings.default_k
        store, catalogue = await self.catalogue()
        info = await self.links.resolve(url)
        known = await self.links.find_known(store, info)
        if known is not None and await store.get_vector("audio", known.id) is not None:
            query = SimilarQuery("link", url, catalogue, known, service=info.service)
            return await self._similar_to_track(store, known, k, query, user_ref=user_ref)
        if not info.has_audio:
            alternative = await self.links.alternative(info)
            if alternative is None:
                raise QueryError(f"\"{info.label}\": {info.note or 'no audio'}, and no other source has it")
            info = alternative
        async with self.links.audio(info) as path:
            result = await self.similar_to_file(path, k, label=info.label, user_ref=user_ref)
        query = dataclasses.replace(result.query, kind="link", text=url, service=info.service)
        return SimilarResult(query=query, tracks=result.tracks)

    async def similar_to_file(self, path: Path, k: int | None = None, *, label: str | None = None,
                              user_ref: str | None = None) -> SimilarResult:
        """Songs like an audio file that need not be in the catalogue (a shared clip, a voice note).

        The file is checked before anything reads it (a regular file under `max_file_bytes`: a FIFO or a
        20 GB sparse file is refused at once), and its name is shown `printable`.
        """
        k = k or self.settings.default_k
        name = label or printable(path.name)
        try:
            digest = await asyncio.to_thread(file_hash, path, self.settings.max_file_bytes)
            store, catalogue = await self.catalogue()
            text = label or printable(path)
            known = await store.find_by_hash(digest)
            if known is not None and known.status == "ready":
                return await self._similar_to_track(store, known, k, SimilarQuery("file", text, catalogue, known),
                                                    user_ref=user_ref)
            embedder = await self.embedder()
            vectors = await asyncio.to_thread(embedder.embed_file, path)
        except AudioError as exc:
            raise UserError(f"{name}: {exc.reason}") from exc
        tracks = await taste.personalised(
            store, user_ref, k, lambda n: similar_to_audio(store, vectors.audio, vectors.audio_version, n,
                                                           weight_audio=self.settings.weight_audio,
                                                           weight_cf=self.settings.weight_cf),
            half_life_days=self.settings.taste_half_life_days)
        mood = QueryMood(valence=round(float(vectors.mood[0]), 3), arousal=round(float(vectors.mood[1]), 3),
                         description=vectors.mood_details.get("description"))
        return SimilarResult(query=SimilarQuery("file", text, catalogue, mood=mood), tracks=tracks)

    async def similar_to_bytes(self, data: bytes | bytearray, k: int | None = None, *, label: str = "clip",
                               user_ref: str | None = None) -> SimilarResult:
        """Like `similar_to_file` for audio a bot received in memory; the bytes are deleted right after."""
        suffix = Path(label).suffix or ".bin"
        with tempfile.TemporaryDirectory(prefix="moodtape-clip-") as folder:
            path = Path(folder) / f"clip{suffix}"
            await asyncio.to_thread(path.write_bytes, data)
            return await self.similar_to_file(path, k, label=label, user_ref=user_ref)

    async def voice(self, audio: bytes | bytearray | Path, k: int | None = None, strategy: str = "match", *,
                    label: str | None = None, language: str | None = None, strict_language: bool = False,
                    voice_note: bool = False, user_ref: str | None = None) -> VoiceResult:
        """A voice note or a clip: speech is transcribed and its mood (nudged by prosody) gets songs; music
        gets "songs like this" as `similar_to_file`.  `language` is a hint (a chat's language code) unless
        `strict_language` (the CLI's explicit choice); `voice_note`: recorded as a voice note (a Telegram voice,
        a Discord voice message, `chat --voice`), judged with the detector's speech-leaning threshold.  The work
        is in `core.voice`; see its docstrings."""
        from moodtape.core.voice import VoiceListener, nothing_heard, nudged_arousal

        _check_strategy(strategy)
        if not isinstance(audio, Path):
            suffix = Path(label or "").suffix or ".bin"
            with tempfile.TemporaryDirectory(prefix="moodtape-voice-") as folder:
                path = Path(folder) / f"clip{suffix}"
                await asyncio.to_thread(path.write_bytes, audio)
                return await self.voice(path, k, strategy, label=label, language=language,
                                        strict_language=strict_language, voice_note=voice_note, user_ref=user_ref)
        name = label or printable(audio.name)
        async with self._load_lock:
            if self._voice is None:
                self._voice = await asyncio.to_thread(VoiceListener, self.settings, self.device)
        try:
            heard = await asyncio.to_thread(self._voice.listen, audio, language, strict=strict_language, name=name,
                                            voice_note=voice_note)
        except AudioError as exc:
            raise UserError(f"{name}: {exc.reason}") from exc
        if heard.kind == "music":
            return VoiceResult(heard, similar=await self.similar_to_file(audio, k, label=label, user_ref=user_ref))
        assert heard.transcript is not None
        if not heard.transcript.text:
            raise nothing_heard(name, language or heard.transcript.language)
        reading = await self.read_mood(heard.transcript.text)
        nudged = dataclasses.replace(reading, arousal=nudged_arousal(reading.arousal, heard.prosody))
        chat = await self.songs_for_reading(nudged, k, strategy, user_ref=user_ref)
        return VoiceResult(heard, chat=chat, arousal_before_prosody=reading.arousal)

    async def _similar_to_track(self, store: Store, track: Track, k: int, query: SimilarQuery, *,
                                user_ref: str | None = None) -> SimilarResult:
        tracks = await self._similar_tracks(store, track, k, user_ref=user_ref)
        return SimilarResult(query=query, tracks=tracks)

    async def _similar_tracks(self, store: Store, track: Track | QueryRow, k: int, *, user_ref: str | None
                              ) -> list[RecommendedTrack]:
        return await taste.personalised(
            store, user_ref, k, lambda n: similar_tracks(store, track, n, weight_audio=self.settings.weight_audio,
                                                         weight_cf=self.settings.weight_cf),
            half_life_days=self.settings.taste_half_life_days)

    async def continue_playlist(self, queries: list[str], k: int | None = None, *, user_ref: str | None = None
                                ) -> ContinueResult:
        """Songs to extend a playlist from its seed songs (each an id, "artist - title" or title words)."""
        queries = [q for q in queries if q.strip()]
        if not queries:
            raise QueryError("give me at least one song to continue from")
        store, catalogue = await self.catalogue()
        seeds = list({t.id: t for t in [await find_track(store, q) for q in queries]}.values())
        seed_ids = [t.id for t in seeds]
        tracks = await taste.personalised(
            store, user_ref, k or self.settings.default_k,
            lambda n: continuation.continue_playlist(store, seed_ids, n),
            half_life_days=self.settings.taste_half_life_days, limit=continuation.MAX_K)
        return ContinueResult(seeds=seeds, tracks=tracks, catalogue=catalogue)

    async def continue_from_title(self, title: str, k: int | None = None) -> TitleResult:
        """A playlist started from its name alone ("rainy day chill"): the songs of imported playlists named
        like it, nudged by the mood of its words and the sounds it names (`core.recommend.title`).  With no playlists imported, the
        mood of the words alone answers, and the result says so."""
        text = clean_text(title, MAX_TITLE_CHARS).strip()
        if not text:
            raise QueryError("give me a playlist title, e.g. \"rainy day chill\"")
        k = k or self.settings.default_k
        reading = await self.read_mood(text)
        sounds = parse_tags(text)  # "rainy day piano": the songs found by mood lean to the sound too
        index = await self._titles.get(self.store)
        if index.empty:
            chat = await self.songs_for_reading(reading, k, "match", tags=sounds)
            return mood_only(text, reading, chat.tracks, chat.catalogue)
        matched = (await songs_for_mood(self.store, reading.valence, reading.arousal, "match", max(k, 20),
                                        tags=sounds)
                   if mood_steers(reading) else [])
        return await recommend_for_title(self.store, index, text, k, reading, matched)

    async def chat(self, text: str, k: int | None = None, strategy: str = "match", *,
                   user_ref: str | None = None) -> ChatResult:
        """Read the mood of `text` and pick songs for it with `strategy` (match, lift, calm, energize);
        `user_ref`: the asking person, whose 👍/👎 re-rank the songs (None: nobody's).  Sound words in the
        text ("with piano", "보컬 없는") steer the songs towards (or away from) tracks tagged so."""
        _check_strategy(strategy)
        return await self.songs_for_reading(await self.read_mood(text), k, strategy, user_ref=user_ref,
                                            tags=parse_tags(text))

    async def read_mood(self, text: str) -> MoodReading:
        """The first half of `chat`: the emotion model's reading of one message."""
        return (await (await self._reader()).aread([text]))[0]

    async def read_moods(self, texts: list[str]) -> list[MoodReading]:
        """`read_mood` for many messages at once (batched through the model: a chat log, `moodtape room`)."""
        return await (await self._reader()).aread(texts) if texts else []

    def note_mood(self, room: str, person: str, reading: MoodReading) -> None:
        """Remember a message's reading (not its text) in the window of `room` (a group chat or channel)."""
        self.rooms.note(room, person, reading)

    async def room_songs(self, room: str, k: int | None = None, strategy: str = "match") -> RoomResult | None:
        """Songs for the mood of everyone read recently in `room`; None when nobody there was read yet."""
        _check_strategy(strategy)
        mood = self.rooms.mood(room)
        if mood is None:
            return None
        return RoomResult(chat=await self.songs_for_reading(mood.reading, k, strategy), room=mood)

    async def songs_for_reading(self, reading: MoodReading, k: int | None = None, strategy: str = "match", *,
                                user_ref: str | None = None, tags: TagQuery | None = None) -> ChatResult:
        """The second half of `chat`: songs for a reading, from the database or, while it has no song with a
        mood, the demo.

        In `auto` mode the database is asked first and an empty answer means "no mood vectors yet" (the search
        returns a song whenever one has a mood): that answers the question `catalogue("mood")` asks without
        counting the mood table on every message, which costs more than the search itself on a large catalogue.
        """
        _check_strategy(strategy)
        k = k or self.settings.default_k
        if self.settings.demo == "auto":
            tracks = await self._mood_songs(self.store, reading, strategy, k, user_ref, tags)
            if tracks:
                return ChatResult(mood=reading, strategy=strategy, tracks=tracks, catalogue="database")
        store, catalogue = await self.catalogue("mood")
        tracks = await self._mood_songs(store, reading, strategy, k, user_ref, tags)
        return ChatResult(mood=reading, strategy=strategy, tracks=tracks, catalogue=catalogue)

    async def _mood_songs(self, store: Store, reading: MoodReading, strategy: str, k: int, user_ref: str | None,
                          tags: TagQuery | None = None) -> list[RecommendedTrack]:
        """`songs_for_mood`, re-ranked by the person's taste; a path (lift, calm, energize) keeps its order."""
        return await taste.personalised(
            store, user_ref, k,
            lambda n: songs_for_mood(store, reading.valence, reading.arousal, strategy, n, tags=tags),
            half_life_days=self.settings.taste_half_life_days, keep_order=strategy != "match")

    async def forget(self, user_ref: str) -> tuple[int, int]:
        """Delete a person's 👍/👎 (/forget) in the database and the demo catalogue; (👍, 👎) deleted.

        Their answers are then what anybody's are, and the next collaborative refresh no longer sees the votes.
        """
        liked, disliked = await self.store.forget_feedback(user_ref)
        if self._demo is not None or demo.demo_path(self.settings.db_path).exists():
            demo_liked, demo_disliked = await (await self._demo_store()).forget_feedback(user_ref)
            liked, disliked = liked + demo_liked, disliked + demo_disliked
        return liked, disliked

    async def strategy_for(self, user_ref: str) -> str:
        """The strategy a chat user chose with /strategy (default `match`); kept in the database."""
        chosen = await self.store.get_pref(user_ref, "strategy")
        return chosen if chosen in STRATEGIES else "match"

    async def set_strategy(self, user_ref: str, strategy: str) -> None:
        _check_strategy(strategy)
        await self.store.set_pref(user_ref, "strategy", strategy)

    async def picture_for(self, user_ref: str) -> bool:
        """Whether a person asked for a picture of the mood with their answers (off unless they turned it on)."""
        return await self.store.get_pref(user_ref, "picture") == "on"

    async def set_picture(self, user_ref: str, on: bool) -> None:
        """Turn the picture of the mood on or off for one person (a sibling of the strategy preference)."""
        await self.store.set_pref(user_ref, "picture", "on" if on else "off")

    async def tracks_for_ids(self, ids: list[int]) -> list[Track]:
        """Tracks by id, in the order given, from the catalogue queries use (an answer's 💾 Save button)."""
        store, _ = await self.catalogue()
        found = await store.get_tracks(ids)
        return [found[i] for i in ids if i in found]

    async def suggest_tracks(self, text: str, limit: int = 25) -> list[Track]:
        """Songs whose title, artist or album contains `text`, from the catalogue queries use (autocomplete)."""
        store, _ = await self.catalogue()
        return await store.search_tracks(text[:200], limit=limit, statuses=("ready",))

    async def stats(self) -> CatalogueStats:
        queries_use = (await self.catalogue())[1]
        chat_uses = (await self.catalogue("mood"))[1]
        demo_tracks = None
        if "demo" in (queries_use, chat_uses):
            demo_tracks = await (await self._demo_store()).count_tracks("ready")
        return CatalogueStats.from_store(await self.store.stats(), database=self.settings.database_label,
                                         queries_use=queries_use, chat_uses=chat_uses, demo_tracks=demo_tracks)


def _check_strategy(strategy: str) -> None:
    """A strategy name, or a `UserError` that echoes what was sent (cleaned and cut: it may be anything)."""
    if strategy not in STRATEGIES:
        shown = clean_text(strategy, 40)
        raise UserError(f"unknown strategy \"{shown}\"; choose one of {', '.join(STRATEGIES)}")
