"""A child process that runs Vosk, so Kaldi never shares a process with the rest of Moodtape.

Run by path (`python vosk_worker.py MODEL_DIR`), so it imports no Moodtape module.  Why a process of its
own: once usearch's extension (the approximate-search index, loaded by the store) is in a process, Kaldi
fails to parse its own model configuration ("VoskAPI:ToFloat", "Failed to create a model"), a clash of the two
native libraries; Vosk loaded in a clean process works.  It also keeps a native crash away from the bots.
(`db/usearch_index.py` now loads the system C++ runtime before usearch, which cured the same kind of clash
for ONNX Runtime and torch's tracer; Vosk has not been tried in-process since, and needs no retrial: this
process is worth keeping for the second reason.)

Protocol (binary, on stdin/stdout): the parent writes a 4-byte little-endian length and that many bytes of
16 kHz 16-bit mono PCM; the worker answers one line of JSON, a list of {"word", "conf"}.  A length of 0 ends
it.  The first line it writes is {"ready": true} or {"error": "..."}.
"""

from __future__ import annotations

import json
import struct
import sys

__all__: list[str] = []

SAMPLE_RATE = 16000


def main() -> int:
    out = sys.stdout
    try:
        import vosk

        vosk.SetLogLevel(-1)
        model = vosk.Model(sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which words it for a person
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    source = sys.stdin.buffer
    while True:
        head = source.read(4)
        if len(head) < 4:
            return 0
        (size,) = struct.unpack("<I", head)
        if size == 0:
            return 0
        pcm = source.read(size)
        recogniser = vosk.KaldiRecognizer(model, SAMPLE_RATE)
        recogniser.SetWords(True)
        words = []
        step = SAMPLE_RATE * 2 * 4  # four seconds at a time, as Vosk's own examples feed it
        for start in range(0, len(pcm), step):
            if recogniser.AcceptWaveform(pcm[start:start + step]):  # an utterance ended: collect it
                words += json.loads(recogniser.Result()).get("result", [])
        words += json.loads(recogniser.FinalResult()).get("result", [])
        out.write(json.dumps([{"word": w.get("word", ""), "conf": float(w.get("conf", 0.0))} for w in words],
                             ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
