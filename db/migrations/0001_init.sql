-- Moodtape schema, version 1.
-- Vector dimensions are part of the schema: a model that changes a dimension ships a migration that
-- recreates its vec0 table, and the scheduler re-embeds (rows carry the model version that made them).

CREATE TABLE tracks (
    id              INTEGER PRIMARY KEY,
    title           TEXT NOT NULL,
    artist          TEXT,
    album           TEXT,
    duration_s      REAL,
    source_kind     TEXT NOT NULL CHECK (source_kind IN ('file', 'url', 'catalogue')),
    source          TEXT,                 -- file path or URL the track came from
    external_id     TEXT UNIQUE,          -- e.g. spotify:track:..., deezer:123
    content_hash    TEXT UNIQUE,          -- sha256 of the audio bytes (files, downloads)
    match_key       TEXT,                 -- normalised "artist|title" for matching across sources
    licence         TEXT,
    added_by        TEXT,
    added_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'ready', 'failed', 'metadata_only')),
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);
CREATE INDEX tracks_status ON tracks (status, next_attempt_at);
CREATE INDEX tracks_match_key ON tracks (match_key);
CREATE INDEX tracks_title ON tracks (title COLLATE NOCASE);

-- Content embedding (handcrafted descriptor or learned encoder), unit-norm, cosine distance.
CREATE VIRTUAL TABLE vec_audio USING vec0(
    track_id INTEGER PRIMARY KEY,
    embedding float[128] distance_metric=cosine,
    model_version TEXT
);
-- Collaborative (playlist co-occurrence) embedding, cosine distance.
CREATE VIRTUAL TABLE vec_cf USING vec0(
    track_id INTEGER PRIMARY KEY,
    embedding float[64] distance_metric=cosine,
    model_version TEXT
);
-- Song mood: (valence, arousal) in [-1, 1], Euclidean distance; details (GEMS scores) as JSON.
CREATE VIRTUAL TABLE vec_mood USING vec0(
    track_id INTEGER PRIMARY KEY,
    embedding float[2],
    model_version TEXT,
    +details TEXT
);

CREATE TABLE playlists (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    source       TEXT NOT NULL,           -- e.g. "mpd"
    external_id  TEXT,                    -- e.g. the MPD pid
    description  TEXT,
    added_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (source, external_id)
);
CREATE TABLE playlist_tracks (
    playlist_id  INTEGER NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    track_id     INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    PRIMARY KEY (playlist_id, position)
);
CREATE INDEX playlist_tracks_track ON playlist_tracks (track_id);

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    track_id    INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    user_ref    TEXT NOT NULL,            -- "<platform>:<user id>"
    value       INTEGER NOT NULL CHECK (value IN (-1, 1)),
    context     TEXT,                     -- JSON: what was asked (mood, query, strategy)
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (track_id, user_ref, context)
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,           -- embed | reembed | backup | cf_refresh
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    run_after    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    locked_by    TEXT,
    locked_at    TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX jobs_status ON jobs (status, run_after);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
