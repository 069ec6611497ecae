"""musicnn's two tag vocabularies as one set of words: merged spellings, lift ranking, bounded storage."""

from __future__ import annotations

import json
from pathlib import Path

from moodtape.core.audio.musicnn_tags import (
    KINDS,
    canonical,
    canonical_scores,
    load_tag_priors,
    stored_tags,
    tag_priors,
    top_tags,
)

MANIFEST = Path(__file__).parents[3] / "core" / "data" / "musicnn" / "musicnn.json"


def test_every_tag_of_both_models_has_one_canonical_word_of_a_known_kind() -> None:
    tags = [t for model in json.loads(MANIFEST.read_text())["models"].values() for t in model["tags"]]
    assert len(tags) == 100
    words = {canonical(t) for t in tags}
    assert words <= set(KINDS)
    assert canonical("no vocal") == canonical("No Vocals") == canonical("no voice") == "instrumental"
    assert canonical("female vocalists") == canonical("woman") == "female vocals"


def test_spellings_merge_to_their_highest_probability() -> None:
    merged = canonical_scores([{"female": 0.2, "woman": 0.6, "rock": 0.1}, {"female vocalists": 0.4, "rock": 0.3}])
    assert merged == {"female vocals": 0.6, "rock": 0.3}


def test_top_tags_rank_by_lift_and_never_say_a_voice_twice() -> None:
    priors = {"guitar": 0.5, "piano": 0.05, "mellow": 0.1, "vocals": 0.3, "female vocals": 0.1, "80s": 0.01,
              "instrumental": 0.3}
    scores = {"guitar": 0.6, "piano": 0.4, "mellow": 0.35, "vocals": 0.9, "female vocals": 0.5, "80s": 0.5,
              "instrumental": 0.2}
    words = top_tags(scores, priors, k=4)
    # piano is 8x likelier than usual, guitar only 1.2x; an era is never what a song "sounds like"
    assert words[0] == "piano" and "80s" not in words
    assert "female vocals" in words and "vocals" not in words and "instrumental" not in words
    # an unlikely tag is not shown however high its lift
    assert "sitar" not in top_tags({"sitar": 0.1}, {"sitar": 0.001})


def test_stored_tags_are_bounded_and_keep_the_telling_ones() -> None:
    scores = {f"t{i}": 0.5 for i in range(40)} | {"piano": 0.3}
    priors = {f"t{i}": 0.5 for i in range(40)} | {"piano": 0.01}
    kept = stored_tags(scores, priors, keep=12)
    assert len(kept) == 12 and kept["piano"] == 0.3


def test_priors_are_means_over_the_corpus_and_missing_spec_means_none(tmp_path: Path, monkeypatch) -> None:
    assert tag_priors([{"rock": 0.2}, {"rock": 0.4, "jazz": 0.2}]) == {"jazz": 0.1, "rock": 0.3}
    monkeypatch.setenv("MOODTAPE_MUSICNN_DIR", str(tmp_path))
    assert load_tag_priors() == {}
