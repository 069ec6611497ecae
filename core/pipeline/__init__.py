"""The catalogue pipeline: files and links in, vectors out, kept going by a scheduler.

`ingest` (files -> pending tracks), `importer` (playlists, metadata-only catalogues, streamed: `documents`
reads the file in chunks, `json_stream` + `mpd_reader` and `csv_reader` parse it, `import_fields` checks the
values, `import_writer` writes batches, `import_report` counts), `link_batch` (links added in one go),
`embedding` (audio -> vectors, pending -> ready), `retry` (backoff for failures that may pass), `worker` (runs queued jobs, with explicit dependencies: nothing here imports the `Engine`),
`scheduler` (the clock, the only module that loads APScheduler), `backups`, `cf_due` (when collaborative
vectors are refitted), `overview` (what `moodtape jobs` shows), `identity` (worker ids), `stamps` (times
as the database keeps them).

The names below load their module on first use: Python imports this package before any module in it, so
eager imports here would make `from moodtape.core.pipeline.importer import read_mpd` (training, the CLI's
`import`) pull in torch and APScheduler.
"""

from importlib import import_module
from typing import Any

#: public name -> the module of this package that defines it
_EXPORTS = {
    "AddReport": "ingest",
    "add_files": "ingest",
    "AudioSourceOpener": "embedding",
    "EmbedReport": "embedding",
    "TrackEmbedder": "embedding",
    "due_tracks": "embedding",
    "embed_tracks": "embedding",
    "ImportFormatError": "documents",
    "ImportReport": "importer",
    "MpdSlice": "importer",
    "read_mpd": "importer",
    "import_file": "importer",
    "LinkReport": "link_batch",
    "JobsOverview": "overview",
    "jobs_overview": "overview",
    "retry_later": "retry",
    "SchedulerHandle": "scheduler",
    "start_scheduler": "scheduler",
    "Worker": "worker",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
