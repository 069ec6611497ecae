"""Tiny random transformer checkpoints built offline for tests (no hub access).

A real `RobertaForSequenceClassification` with a few thousand parameters and a word-level tokenizer trained
on a handful of sentences: the same loading and inference code paths as a production RoBERTa checkpoint,
in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

EKMAN = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
CORPUS = [
    "i am so happy today", "this is terrible and i am sad", "i am angry at everything", "what a surprise",
    "i feel scared and alone", "that is disgusting", "it is an ordinary day", "i love this song",
    "everything went wrong today", "so much fun at the party",
]


def build_tiny_roberta(path: Path, labels: list[str] | None = None, *, multi_label: bool = False,
                       seed: int = 0) -> Path:
    """Write a tiny random RoBERTa sequence classifier + tokenizer to `path` and return it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    names = labels or EKMAN
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=64,
    )
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=fast.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=70, pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, num_labels=len(names),
        id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    model = RobertaForSequenceClassification(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models on a busy machine: one thread avoids OpenMP's spin-waiting (10-50x faster here).

    Import it into a test module to apply it there (it is not in conftest, so other modules keep torch's
    default threading).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
