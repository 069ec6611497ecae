"""`moodtape train voice` (fit the speech/music detector) and `moodtape eval voice` (its accuracy, WER, mood).

Both synthesise speech with espeak-ng (a measurement-only system package) and take music from a folder given
by argument (e.g. ../shared/data/audio/emotify); nothing they read is shipped or committed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtape.core.config import Settings
from moodtape.core.results import print_json

__all__ = ["add_commands"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "core" / "data" / "voice" / "detector.json"


def add_commands(train: argparse._SubParsersAction, evaluate: argparse._SubParsersAction,
                 bench: argparse._SubParsersAction) -> None:
    fit = train.add_parser(
        "voice", help="fit the speech/music detector of voice notes",
        description="Synthesises English and Korean speech with espeak-ng (roughened: noise, background music, "
                    "telephone band), cuts --music into windows, fits a logistic regression on the detector's "
                    "twelve features and reports held-out accuracy (held-out sentences, voices and songs). "
                    "--out writes the detector file (the shipped one is core/data/voice/detector.json).",
    )
    fit.add_argument("--music", type=Path, required=True, help="folder of music (e.g. the Emotify clips)")
    fit.add_argument("--out", type=Path, default=None, help=f"write the fitted detector here (e.g. {DEFAULT_OUT})")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--json", action="store_true")
    fit.set_defaults(handler=_train_voice)

    ev = evaluate.add_parser(
        "voice", help="speech/music accuracy, word error rate and mood agreement of voice notes",
        description="With --music: the shipped detector on the held-out split `train voice` uses. Then every "
                    "sentence of training/voice_corpus.py, spoken by espeak-ng, goes through the real listener "
                    "(detector, recogniser, prosody): WER, CER, and how often the mood read in the transcript "
                    "agrees with the mood read in the true sentence. Needs moodtape[voice] and espeak-ng.",
    )
    ev.add_argument("--music", type=Path, default=None, help="folder of music for the detector's accuracy")
    ev.add_argument("--recorded", type=Path, default=None,
                    help="also recorded English speech with CMU Sphinx transcription files, e.g. Debian's "
                         "pocketsphinx-testdata: /usr/share/pocketsphinx/test/data")
    ev.add_argument("--languages", default="en,ko", help="comma-separated: en, ko (empty: none)")
    ev.add_argument("--no-hint", action="store_true", help="give the recognisers no language hint (both run)")
    ev.add_argument("--limit", type=int, default=None, help="at most this many sentences per language")
    ev.add_argument("--seed", type=int, default=1)
    ev.add_argument("--verbose", action="store_true", help="print each sentence and what was heard")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=_eval_voice)


def _train_voice(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.training.voice_eval import fit_detector, stderr_log

    detector, report = fit_detector(args.music, args.seed, stderr_log)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        data = detector.to_json() | {"fitted_on": {"music": args.music.name, "speech": "espeak-ng, voice_corpus.py",
                                                   "seed": args.seed}, "report": report}
        args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        report["written"] = str(args.out)
    if args.json:
        print_json(report)
    else:
        for side in ("train", "test", "test_clean_speech"):
            print(side, report[side])
    return 0


def _eval_voice(args: argparse.Namespace, settings: Settings) -> int:
    from moodtape.core.voice.detector import shipped_detector
    from moodtape.training.voice_eval import evaluate_detector, evaluate_speech, stderr_log

    report: dict = {}
    if args.music is not None:
        report["detector"] = evaluate_detector(shipped_detector(), args.music, 0, stderr_log)
    if args.recorded is not None:
        from moodtape.training.voice_eval import evaluate_recorded

        report["recorded"] = evaluate_recorded(settings, args.recorded, stderr_log if args.verbose else None)
    languages = tuple(code for code in args.languages.split(",") if code)
    report["speech"] = {} if not languages else evaluate_speech(settings, languages, args.seed, hint=not args.no_hint, limit=args.limit,
                                       log=stderr_log if args.verbose else None)
    if args.json:
        print_json(report)
    else:
        print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0
