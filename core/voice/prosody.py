"""How something was said: pitch range, loudness and speaking rate, and the small arousal nudge they give.

Words carry most of a mood; the voice says how strongly it is felt.  Aroused speech (excited, angry, scared)
is louder, faster and wider in pitch than calm or sad speech, which is one of the steadiest findings of vocal
emotion research, while valence is hardly audible in those three cues.  So prosody moves only the arousal of
the reading, and only a little: each cue becomes a z-score against typical conversational speech
(`REFERENCE`, priors from the literature rather than fitted: there is no labelled emotional speech here to
fit them on), their mean is clipped to +-1.5 and scaled by 0.1, so the nudge is at most +-0.15 on an axis
that runs from -1 to 1.  A phone's automatic gain control blurs loudness, which is why it is one cue of three.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MAX_NUDGE", "REFERENCE", "Prosody", "measure_prosody"]

#: (mean, spread) of each cue in ordinary conversational speech: pitch range in semitones between the 10th and
#: 90th percentile of voiced frames, loudness of the active frames in dBFS, syllables per second.
REFERENCE: dict[str, tuple[float, float]] = {
    "pitch_range_st": (6.0, 3.0),
    "energy_db": (-26.0, 8.0),
    "rate_syll_s": (4.0, 1.2),
}
#: Largest change of arousal prosody may make.
MAX_NUDGE = 0.15
_GAIN = 0.1  # arousal per z-score; the mean z is in effect clipped to +-1.5 (MAX_NUDGE / _GAIN)


@dataclass(frozen=True)
class Prosody:
    pitch_range_st: float | None  # None: too few voiced frames to tell
    energy_db: float
    rate_syll_s: float
    nudge: float  # what it adds to the reading's arousal, in [-MAX_NUDGE, MAX_NUDGE]

    def to_json(self) -> dict[str, Any]:
        return {"pitch_range_st": None if self.pitch_range_st is None else round(self.pitch_range_st, 2),
                "energy_db": round(self.energy_db, 1), "rate_syll_s": round(self.rate_syll_s, 2),
                "arousal_nudge": round(self.nudge, 3)}


def measure_prosody(samples: np.ndarray, sr: int) -> Prosody:
    """The three cues of a speech clip and the arousal nudge they imply."""
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    hop = int(sr * 0.01)  # 10 ms frames
    frame = int(sr * 0.04)
    rms = librosa.feature.rms(y=y, frame_length=frame, hop_length=hop, center=True)[0]
    rms_db = 20.0 * np.log10(np.maximum(rms, 1e-5))
    active = rms_db > max(float(np.max(rms_db)) - 35.0, -60.0)  # frames within 35 dB of the loudest
    energy_db = float(np.mean(rms_db[active])) if active.any() else -60.0

    f0 = librosa.yin(y, fmin=65.0, fmax=450.0, sr=sr, frame_length=max(1024, 4 * frame), hop_length=hop)
    n = min(len(f0), len(rms_db))
    f0, loud = f0[:n], rms_db[:n]
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=frame, hop_length=hop)[0][:n]
    # voiced: loud enough, few zero crossings (not a fricative or noise), and yin inside its search range
    voiced = (loud > float(np.max(loud)) - 25.0) & (zcr < 0.15) & (f0 > 66.0) & (f0 < 445.0)
    pitch_range: float | None = None
    if voiced.sum() >= 20:
        low, high = np.percentile(f0[voiced], [10, 90])
        pitch_range = float(12.0 * np.log2(high / max(low, 1e-3)))

    # syllable nuclei: peaks of the smoothed loudness of active frames at least 100 ms apart
    smooth = np.convolve(rms_db, np.ones(5) / 5.0, mode="same")
    floor = float(np.max(smooth)) - 20.0
    peaks = 0
    last = -10
    for i in range(1, len(smooth) - 1):
        if smooth[i] > floor and smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1] and i - last >= 10:
            peaks += 1
            last = i
    speaking_s = max(float(active.sum()) * hop / sr, 0.5)
    rate = peaks / speaking_s

    zs = [(energy_db - REFERENCE["energy_db"][0]) / REFERENCE["energy_db"][1],
          (rate - REFERENCE["rate_syll_s"][0]) / REFERENCE["rate_syll_s"][1]]
    if pitch_range is not None:
        zs.append((pitch_range - REFERENCE["pitch_range_st"][0]) / REFERENCE["pitch_range_st"][1])
    nudge = float(np.clip(_GAIN * float(np.mean(zs)), -MAX_NUDGE, MAX_NUDGE))
    return Prosody(pitch_range_st=pitch_range, energy_db=energy_db, rate_syll_s=rate, nudge=nudge)
