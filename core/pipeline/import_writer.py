"""Writing imported tracks a batch at a time, matched to the catalogue and counted once per import.

A track is known by its identity (the file's external id, else `catalogue:` + normalised artist + title):
one already in the catalogue under that identity is reused; else one with the same normalised artist +
title (the same recording from another source) is reused; else a `metadata_only` track is created.  Each
batch is a few round trips (look up ids, look up keys, insert the new ones), whatever its size.

`tracks_matched` counts each identity of the file once, although a popular track appears in many batches.
What the writer remembers for that is compact, so memory stays flat as a file grows: one bit per track id
for identities that are the track's own external id (nearly all: a million tracks cost 125 KB, where a set
of ints would cost 60 MB), the identity text only for those matched to a track known under another id.
"""

from __future__ import annotations

from collections.abc import Sequence

from moodtape.core.pipeline.import_fields import ImportItem
from moodtape.core.pipeline.import_report import ImportReport
from moodtape.db.models import NewTrack
from moodtape.db.store import Store

__all__ = ["TrackIdSet", "TrackWriter"]


class TrackIdSet:
    """A set of track ids as a bitmap (row ids are small and dense); odd ones (negative, huge) in a set."""

    _BITMAP_LIMIT = 1 << 34  # ids below this (a 2 GB bitmap at worst, never reached in practice) use bits

    def __init__(self) -> None:
        self._bits = bytearray()
        self._others: set[int] = set()

    def add(self, track_id: int) -> bool:
        """Add `track_id`; True when it was not there before."""
        if not 0 <= track_id < self._BITMAP_LIMIT:
            new = track_id not in self._others
            self._others.add(track_id)
            return new
        byte, bit = divmod(track_id, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits) + len(self._bits) // 2))  # grow geometrically
        mask = 1 << bit
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        return True


class TrackWriter:
    """Resolves the tracks of one import, batch by batch; see the module docstring."""

    def __init__(self, store: Store, source_label: str, report: ImportReport) -> None:
        self.store = store
        self.source_label = source_label
        self.report = report
        self._counted_tracks = TrackIdSet()  # tracks counted (new or matched) under their own external id
        self._counted_aliases: set[str] = set()  # identities counted as matched to another track

    def _count(self, identity: str, track_id: int, *, alias: bool) -> None:
        if alias:
            new = identity not in self._counted_aliases
            self._counted_aliases.add(identity)
        else:
            new = self._counted_tracks.add(track_id)
        self.report.tracks_matched += int(new)

    async def resolve(self, items: Sequence[ImportItem]) -> dict[str, int]:
        """identity -> track id for every item, creating the tracks the catalogue does not have."""
        unique: dict[str, ImportItem] = {}
        for item in items:
            unique.setdefault(item.identity, item)
        ids = await self.store.find_by_external_ids(list(unique))
        for identity, track_id in ids.items():
            self._count(identity, track_id, alias=False)
        missing = [identity for identity in unique if identity not in ids]
        by_key = await self.store.find_by_match_key(list(dict.fromkeys(unique[i].key for i in missing)))
        new: list[NewTrack] = []
        first_with_key: dict[str, str] = {}
        aliases: dict[str, str] = {}
        for identity in missing:
            item = unique[identity]
            if item.key in by_key:
                ids[identity] = by_key[item.key]
                self._count(identity, ids[identity], alias=True)
            elif item.key in first_with_key:  # the same recording under another id in this batch
                aliases[identity] = first_with_key[item.key]
            else:
                first_with_key[item.key] = identity
                new.append(self._new_track(identity, item))
        created = await self.store.add_tracks_bulk(new)
        self.report.tracks_new += len(created)
        for track, track_id in zip(new, created):
            ids[track.external_id] = track_id  # type: ignore[index]
            self._counted_tracks.add(track_id)
        for identity, target in aliases.items():
            ids[identity] = ids[target]
            self._count(identity, ids[identity], alias=True)
        return ids

    def _new_track(self, identity: str, item: ImportItem) -> NewTrack:
        return NewTrack(
            title=item.title, artist=item.artist, album=item.album, duration_s=item.duration_s,
            source_kind="catalogue", source=item.url or self.source_label, external_id=identity,
            match_key=item.key, licence=item.licence, added_by=f"import:{self.source_label}",
            status="metadata_only",
        )
