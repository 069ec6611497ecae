-- Per-user preferences of the chat front ends (e.g. the mood strategy chosen with /strategy).
CREATE TABLE user_prefs (
    user_ref    TEXT NOT NULL,            -- "<platform>:<user id>"
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (user_ref, key)
);
