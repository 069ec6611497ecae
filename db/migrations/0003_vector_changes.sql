-- Change log of the vector tables, written in the same transaction as every vector write or delete, so an
-- in-memory ANN index (db/ann.py) in any process can catch up incrementally: it remembers the last `seq` it
-- applied and re-reads the current rows of the tracks changed since.  AUTOINCREMENT: a seq is never reused,
-- even after the log is pruned (the store keeps the most recent rows only).
CREATE TABLE vector_changes (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL,             -- audio | cf | mood
    track_id       INTEGER NOT NULL,
    model_version  TEXT,                      -- the version written (NULL for deletes)
    op             TEXT NOT NULL CHECK (op IN ('put', 'delete'))
);
