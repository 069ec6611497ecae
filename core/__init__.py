"""The engine: everything that decides what to recommend, and nothing about Discord, Telegram or a terminal.

One package per subsystem, each with a short public surface (`__all__`):

* `audio/`     decoding through ffmpeg, features in torch, the content embedders, file tags;
* `mood/`      reading emotions in text, the valence/arousal mood space and strategies, song mood;
* `recommend/` songs like a song (sound + playlists, blended), songs for a mood, playlist continuation;
* `cf/`        collaborative vectors from playlists and feedback, and the audio -> playlist bridge;
* `links/`     link services (one module per provider), the guarded HTTP client, the egress proxy, yt-dlp;
* `pipeline/`  ingestion and import, embedding, retries, the worker, the scheduler, backups.

`engine.Engine` is the one door every front end uses; `errors` holds the one error root (`MoodtapeError`).
"""
