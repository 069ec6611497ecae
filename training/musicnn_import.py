"""`moodtape train import-musicnn WHEEL_OR_DIR`: convert musicnn's TensorFlow checkpoints to safetensors.

The `musicnn` 0.1.0 wheel on PyPI (ISC licence, Music Technology Group, UPF) ships its pretrained models as
TensorFlow 1 checkpoints.  This reads them with `tf_checkpoint` (no TensorFlow), maps the TF variables to the
layers of `core.audio.musicnn_layers.MusicnnNet` (checking every name and shape), and writes, per model,
float16 safetensors (~1.6 MB), plus `musicnn.json` (tag lists, read from the wheel's own configuration.py, and
file hashes) and MODEL_CARD.md (provenance and the ISC notice from the wheel).  The input is the wheel itself
or a folder holding the unpacked wheel (or its `musicnn/` package folder), so the conversion is reproducible
from the published artefact and its sha256.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from moodtape.core.audio.musicnn import MODELS
from moodtape.core.audio.musicnn_layers import TEMPORAL, TIMBRAL, MusicnnNet
from moodtape.core.errors import UserError
from moodtape.training.tf_checkpoint import Checkpoint, CheckpointError

DATA_FILE = ".data-00000-of-00001"
LABELS = {"MTT_musicnn": "MTT_LABELS", "MSD_musicnn": "MSD_LABELS"}
OUT_FILES = {"MTT_musicnn": "mtt_musicnn.safetensors", "MSD_musicnn": "msd_musicnn.safetensors"}


class MusicnnImportError(UserError):
    """The input is not a musicnn wheel or folder, or its checkpoints do not fit the port."""


@dataclass(frozen=True)
class Source:
    """The unpacked `musicnn/` package folder, the licence text, version and provenance of the input."""

    package: Path
    licence: str
    version: str
    description: str
    sha256: str | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dist_info(root: Path) -> tuple[str, str]:
    """(licence text, version) from the wheel's dist-info next to the package folder."""
    licence, version = "", "unknown"
    for info in sorted(root.glob("musicnn-*.dist-info")):
        for name in ("LICENSE.md", "LICENSE", "LICENSE.txt"):
            if (info / name).is_file():
                licence = (info / name).read_text(encoding="utf-8").strip()
                break
        metadata = info / "METADATA"
        if metadata.is_file():
            for line in metadata.read_text(encoding="utf-8").splitlines():
                if line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
    return licence, version


def open_source(path: Path, scratch: Path) -> Source:
    """Unpack a wheel into `scratch` (or use a folder as is) and find the `musicnn/` package in it."""
    if not path.exists():
        raise MusicnnImportError(f"{path}: no such file or folder")
    sha = None
    description = str(path.name)
    if path.is_file():
        try:
            with zipfile.ZipFile(path) as wheel:
                members = [m for m in wheel.namelist() if m.startswith("musicnn")]
                if not any(m.startswith("musicnn/") for m in members):
                    raise MusicnnImportError(f"{path}: not a musicnn wheel (no musicnn/ package inside)")
                for member in members:
                    target = (scratch / member).resolve()
                    if scratch.resolve() not in target.parents:
                        raise MusicnnImportError(f"{path}: unsafe member name {member!r}")
                wheel.extractall(scratch, members)
        except (zipfile.BadZipFile, OSError) as exc:
            raise MusicnnImportError(f"{path}: not a readable wheel (zip) file ({exc})") from exc
        root, sha = scratch, _sha256(path)
    else:
        root = path.parent if (path / "configuration.py").is_file() else path
    package = root / "musicnn"
    if not (package / "configuration.py").is_file():
        raise MusicnnImportError(
            f"{path}: no musicnn/configuration.py (give the wheel or the unpacked wheel's folder)"
        )
    licence, version = _dist_info(root)
    if not licence:
        raise MusicnnImportError(
            f"{path}: the licence (musicnn-*.dist-info/LICENSE.md) is missing; it must ship with the weights"
        )
    return Source(package, licence, version, description, sha)


def read_labels(package: Path) -> dict[str, list[str]]:
    """MTT_LABELS and MSD_LABELS from the wheel's configuration.py, read as literals (never executed)."""
    tree = ast.parse((package / "configuration.py").read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        ):
            continue
        if node.targets[0].id in LABELS.values():
            value = ast.literal_eval(node.value)
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise MusicnnImportError(
                    f"{package / 'configuration.py'}: {node.targets[0].id} is not a list of tags"
                )
            found[node.targets[0].id] = value
    return {model: found[var] for model, var in LABELS.items() if var in found}


def variable_map() -> dict[str, tuple[str, str]]:
    """Our parameter name -> (TF variable, how to lay it out), following the layer creation order of
    musicnn's `build_musicnn` (conv2d, conv2d_1, ...; batch_normalization, batch_normalization_1, ...)."""
    mapping: dict[str, tuple[str, str]] = {}

    def bn(ours: str, index: int) -> None:
        tf = "batch_normalization" + (f"_{index}" if index else "")
        for mine, theirs in (
            ("weight", "gamma"),
            ("bias", "beta"),
            ("running_mean", "moving_mean"),
            ("running_var", "moving_variance"),
        ):
            mapping[f"{ours}.{mine}"] = (f"{tf}/{theirs}", "copy")

    def conv(ours: str, index: int, layout: str) -> None:
        tf = "conv2d" + (f"_{index}" if index else "")
        mapping[f"{ours}.weight"] = (f"{tf}/kernel", layout)
        mapping[f"{ours}.bias"] = (f"{tf}/bias", "copy")

    bn("input_bn", 0)
    for i, name in enumerate(TIMBRAL):
        conv(f"timbral.{name}", i, "conv2d")
        bn(f"timbral_bn.{name}", 1 + i)
    for i, name in enumerate(TEMPORAL):
        conv(f"temporal.{name}", 2 + i, "conv2d")
        bn(f"temporal_bn.{name}", 3 + i)
    for i in range(3):
        conv(f"mid.{i}", 5 + i, "conv1d")
        bn(f"mid_bn.{i}", 6 + i)
    bn("pool_bn", 9)
    mapping["dense.weight"], mapping["dense.bias"] = ("dense/kernel", "linear"), ("dense/bias", "copy")
    bn("dense_bn", 10)
    mapping["out.weight"], mapping["out.bias"] = ("dense_1/kernel", "linear"), ("dense_1/bias", "copy")
    return mapping


def _layout(value: np.ndarray, how: str) -> np.ndarray:
    if how == "conv2d":  # TF (kh, kw, in, out) -> torch (out, in, kh, kw)
        return value.transpose(3, 2, 0, 1)
    if (
        how == "conv1d"
    ):  # TF (7, channels, 1, out) over a (time, channels, 1) image -> torch (out, channels, 7)
        return value[:, :, 0, :].transpose(2, 1, 0)
    if how == "linear":  # TF (in, out) -> torch (out, in)
        return value.T
    return value


def convert_checkpoint(prefix: str | Path, n_tags: int) -> dict[str, torch.Tensor]:
    """The float32 state dict of `MusicnnNet` from the checkpoint `prefix`; every name and shape is checked."""
    checkpoint = Checkpoint(prefix)
    expected = MusicnnNet(n_tags=n_tags).state_dict()
    mapping = variable_map()
    if set(mapping) != set(expected):  # pragma: no cover - guards the mapping against layer changes
        raise AssertionError(f"variable map out of date: {sorted(set(mapping) ^ set(expected))}")
    state: dict[str, torch.Tensor] = {}
    for name, (tf_name, how) in mapping.items():
        value = _layout(checkpoint.tensor(tf_name).astype(np.float32), how)
        if tuple(value.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{checkpoint.index_path}: {tf_name} has shape {list(value.shape)} after layout, the port needs "
                f"{list(expected[name].shape)} (not a musicnn model with {n_tags} tags?)"
            )
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{checkpoint.index_path}: {tf_name} holds non-finite values")
        state[name] = torch.from_numpy(np.ascontiguousarray(value))
    return state


def to_float16(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """float16 copies; a value outside float16's range is an error rather than a silent infinity."""
    out = {}
    for name, value in state.items():
        if value.abs().max() > 65504:
            raise MusicnnImportError(f"{name}: values beyond float16's range; keep float32")
        out[name] = value.to(torch.float16).contiguous()
    return out


def import_musicnn(source_path: Path, out_dir: Path, command: str) -> dict:
    """Convert both models from `source_path` into `out_dir`; a summary for the command's output."""
    with tempfile.TemporaryDirectory(prefix="moodtape-musicnn-") as scratch:
        source = open_source(source_path, Path(scratch))
        labels = read_labels(source.package)
        staged = Path(scratch) / "out"
        staged.mkdir()
        manifest: dict = {
            "source": {
                "package": "musicnn",
                "version": source.version,
                "input": source.description,
                "sha256": source.sha256,
            },
            "command": command,
            "models": {},
        }
        sizes = {}
        for model in MODELS:
            if model not in labels:
                raise MusicnnImportError(f"{source.package / 'configuration.py'}: no {LABELS[model]}")
            prefix = (
                str(source.package / model) + "/"
            )  # the checkpoint files are named "/.index", "/.data-..."
            state = to_float16(convert_checkpoint(prefix, len(labels[model])))
            target = staged / OUT_FILES[model]
            save_file(state, str(target), metadata={"model": model, "source": f"musicnn {source.version}"})
            sizes[model] = target.stat().st_size
            manifest["models"][model] = {
                "file": OUT_FILES[model],
                "tags": labels[model],
                "sha256": _sha256(target),
                "checkpoint_sha256": {
                    name: _sha256(source.package / model / name) for name in (".index", DATA_FILE)
                },
                "parameters": int(sum(v.numel() for k, v in state.items() if "running" not in k)),
            }
        (staged / "musicnn.json").write_text(
            json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (staged / "MODEL_CARD.md").write_text(model_card(manifest, source.licence), encoding="utf-8")
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in staged.iterdir():  # everything was written and checked before anything is replaced
            shutil.copyfile(item, out_dir / item.name)
    return {
        "out": str(out_dir),
        "version": source.version,
        "wheel_sha256": source.sha256,
        "bytes": sizes,
        "tags": {m: len(labels[m]) for m in MODELS},
    }


def model_card(manifest: dict, licence: str) -> str:
    src = manifest["source"]
    lines = [
        "# musicnn (PyTorch port, float16 weights)",
        "",
        "Pretrained music audio taggers by Jordi Pons and Xavier Serra, Music Technology Group, Universitat Pompeu",
        "Fabra: *musicnn: pre-trained convolutional neural networks for music audio tagging* (ISMIR 2019 LBD).",
        "Moodtape runs them with its own PyTorch port (`core/audio/musicnn_layers.py`); only the weights and tag",
        "lists come from the original package.",
        "",
        "| model | trained on | tags | file | sha256 |",
        "|---|---|---|---|---|",
    ]
    trained = {"MTT_musicnn": "MagnaTagATune", "MSD_musicnn": "Million Song Dataset"}
    for name, entry in manifest["models"].items():
        lines.append(
            f"| {name} | {trained.get(name, '?')} | {len(entry['tags'])} | {entry['file']} | `{entry['sha256']}` |"
        )
    lines += [
        "",
        "Input: 16 kHz mono, 96-band log-mel (512-point FFT, hop 256), `log10(10000 x + 1)` of the float16-rounded",
        "mel power, non-overlapping 3 s patches of 187 frames; a clip's tags are its patches' mean probabilities.",
        "",
        "## Provenance",
        "",
        f"- Package: `musicnn` {src['version']} from PyPI (`{src['input']}`)"
        + (f", sha256 `{src['sha256']}`" if src.get("sha256") else ""),
        "- Checkpoints: `musicnn/MTT_musicnn/` and `musicnn/MSD_musicnn/` in that package (TensorFlow 1).",
        f"- Conversion: `{manifest['command']}` (reads the checkpoints without TensorFlow: `training/tf_checkpoint.py`,",
        "  `training/musicnn_import.py`); weights stored as float16, tag lists taken from `musicnn/configuration.py`.",
        "",
        "## Licence (ISC, from the package)",
        "",
        licence,
        "",
    ]
    return "\n".join(lines)
