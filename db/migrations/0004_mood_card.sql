-- What a reply shows of a track's mood, on the track's own row (db/mood_card.py): the point and version of
-- its vec_mood row and the words chosen at ingestion (details.top_tags, joined by char(31)).  vec_mood
-- stays the source of truth; every write of it sets these in the same transaction.  Filled here for the
-- rows written before (45 s for the 1M-track bench file on 2 cores).
ALTER TABLE tracks ADD COLUMN mood_valence REAL;
ALTER TABLE tracks ADD COLUMN mood_arousal REAL;
ALTER TABLE tracks ADD COLUMN mood_version TEXT;
ALTER TABLE tracks ADD COLUMN mood_tags TEXT;
UPDATE tracks SET (mood_valence, mood_arousal, mood_version, mood_tags) = (
    SELECT (SELECT e.value FROM vec_each(m.embedding) e WHERE e.rowid = 0),
           (SELECT e.value FROM vec_each(m.embedding) e WHERE e.rowid = 1),
           m.model_version,
           CASE WHEN json_valid(m.details) AND json_type(m.details, '$.top_tags') = 'array' THEN
               (SELECT group_concat(replace(CAST(j.value AS TEXT), char(31), ' '), char(31))
                FROM json_each(m.details, '$.top_tags') j) END
    FROM vec_mood m WHERE m.track_id = tracks.id
) WHERE id IN (SELECT track_id FROM vec_mood);
