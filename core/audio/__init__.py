"""Audio in: decoding any file to samples, reading its tags, and turning samples into a content vector.

ffmpeg decodes (audio.decode), mutagen reads file tags (audio.tags); the default content embedder is musicnn
(the pretrained taggers in audio.musicnn, their vector in audio.musicnn_embedder, their tags as words in
audio.musicnn_tags), which also reads the handcrafted descriptor (audio.descriptor, over torch features in
audio.features); the descriptor alone and the learned CNN (audio.encoder) are the others.  Every embedder is
loaded when it is asked for (`load_audio_embedder`), never at import.
"""

from typing import TYPE_CHECKING, Any

from moodtape.core.audio.decode import SAMPLE_RATE, AudioError, decode, ffmpeg_binary
from moodtape.core.audio.embedders import (
    DEFAULT_EMBEDDER,
    EMBEDDERS,
    AudioEmbedder,
    UnknownEmbedder,
    load_audio_embedder,
)
from moodtape.core.audio.tags import AUDIO_EXTENSIONS, Tags, read_tags

if TYPE_CHECKING:
    from moodtape.core.audio.descriptor import HandcraftedEmbedder, Standardizer, finish, raw_from_samples

#: Names whose module imports torch (about 5 s and 200 MB): loaded on first use, so that commands that never
#: compute audio features (`moodtape import`, `stats`, `--help`) start without it.
_TORCH_NAMES = {"HandcraftedEmbedder", "Standardizer", "finish", "raw_from_samples"}


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from moodtape.core.audio import descriptor

        return getattr(descriptor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "decode",
    "ffmpeg_binary",
    "AUDIO_EXTENSIONS",
    "Tags",
    "read_tags",
    "AudioEmbedder",
    "HandcraftedEmbedder",
    "Standardizer",
    "finish",
    "raw_from_samples",
    "EMBEDDERS",
    "DEFAULT_EMBEDDER",
    "UnknownEmbedder",
    "load_audio_embedder",
]
