"""`moodtape train import-musicnn` and the TensorFlow checkpoint reader, on checkpoints written here.

The real wheel cannot be downloaded in tests, so a small writer below produces the same format (a LevelDB-style
table of BundleEntryProto records, prefix-compressed keys, several data blocks, masked CRC32Cs, and the raw
`.data` file) with random weights in TF layouts; the converted port must then compute what a literal re-statement
of the TF graph computes from the TF-layout arrays (tests/musicnn_reference.py).
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from moodtape.bot.cli import main
from moodtape.core.audio.musicnn import Musicnn
from moodtape.training.musicnn_import import MusicnnImportError, import_musicnn
from moodtape.training import tf_checkpoint
from moodtape.training.tf_checkpoint import TABLE_MAGIC, Checkpoint, CheckpointError, crc32c, mask_crc
from tests.musicnn_reference import musicnn_reference

TF_TYPES = {
    np.dtype("<f4"): 1,
    np.dtype("<f8"): 2,
    np.dtype("<i4"): 3,
    np.dtype("<i8"): 9,
    np.dtype("<f2"): 19,
}
LICENCE = "Copyright (c) Test Group 2019.\n\nPermission to use, copy, modify ... ISC-style test notice."


# --- a minimal writer of the same format ---------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint(number << 3 | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def _entry(array: np.ndarray, offset: int, data: bytes) -> bytes:
    shape = b"".join(_field(2, 2, _field(1, 0, _varint(d))) for d in array.shape)
    return (
        _field(1, 0, _varint(TF_TYPES[array.dtype]))
        + _field(2, 2, shape)
        + _field(4, 0, _varint(offset))
        + _field(5, 0, _varint(len(data)))
        + _field(6, 5, struct.pack("<I", mask_crc(crc32c(data))))
    )


def _block(pairs: list[tuple[bytes, bytes]], restart_every: int = 3) -> bytes:
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(pairs):
        shared = 0
        if i % restart_every:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value)) + key[shared:] + value
        previous = key
    for r in restarts:
        out += struct.pack("<I", r)
    return bytes(out + struct.pack("<I", len(restarts)))


def _with_trailer(block: bytes) -> bytes:
    return block + b"\x00" + struct.pack("<I", mask_crc(crc32c(block + b"\x00")))


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray], per_block: int = 8) -> None:
    """`prefix.index` + `prefix.data-00000-of-00001` holding `tensors`, as TensorFlow's BundleWriter lays them out."""
    data, pairs = bytearray(), [(b"", _field(1, 0, _varint(1)))]  # header: num_shards = 1, little-endian
    for name in sorted(tensors):
        raw = np.ascontiguousarray(tensors[name]).tobytes()
        pairs.append((name.encode(), _entry(tensors[name], len(data), raw)))
        data += raw
    table, index = bytearray(), []
    for start in range(0, len(pairs), per_block):
        chunk = pairs[start : start + per_block]
        block = _block(chunk)
        index.append((chunk[-1][0], _varint(len(table)) + _varint(len(block))))
        table += _with_trailer(block)
    meta_handle = _varint(len(table)) + _varint(len(_block([])))
    table += _with_trailer(_block([]))
    index_block = _block(index)
    index_handle = _varint(len(table)) + _varint(len(index_block))
    table += _with_trailer(index_block)
    footer = meta_handle + index_handle
    table += footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    Path(prefix + ".index").write_bytes(bytes(table))
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))


# --- random musicnn weights in TF layouts ------------------------------------------------------------------


def tf_weights(n_tags: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}

    def conv(name: str, shape: tuple[int, ...]) -> None:
        fan_in = int(np.prod(shape[:-1]))
        out[f"{name}/kernel"] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype("<f4")
        out[f"{name}/bias"] = (0.1 * rng.standard_normal(shape[-1])).astype("<f4")

    def bn(name: str, n: int) -> None:
        out[f"{name}/gamma"] = rng.uniform(-1.5, 1.5, n).astype("<f4")  # negative scales included
        out[f"{name}/beta"] = (0.1 * rng.standard_normal(n)).astype("<f4")
        out[f"{name}/moving_mean"] = (0.2 * rng.standard_normal(n)).astype("<f4")
        out[f"{name}/moving_variance"] = rng.uniform(0.3, 2.0, n).astype("<f4")

    bn("batch_normalization", 1)
    for i, shape in enumerate(
        [
            (7, 38, 1, 204),
            (7, 67, 1, 204),
            (128, 1, 1, 51),
            (64, 1, 1, 51),
            (32, 1, 1, 51),
            (7, 561, 1, 64),
            (7, 64, 1, 64),
            (7, 64, 1, 64),
        ]
    ):
        conv("conv2d" + (f"_{i}" if i else ""), shape)
        bn(f"batch_normalization_{i + 1}", shape[-1])
    bn("batch_normalization_9", 1506)
    conv("dense", (1506, 200))
    bn("batch_normalization_10", 200)
    conv("dense_1", (200, n_tags))
    out["dense/kernel/Adam"] = np.zeros((1506, 200), "<f4")  # optimiser slots ride along and are ignored
    out["beta1_power"] = np.array(0.9, "<f4")
    return out


MTT_TAGS = ["guitar", "techno", "no vocals", "slow", "piano"]
MSD_TAGS = ["rock", "sad", "chill"]


def fake_package(root: Path, weights: dict[str, dict[str, np.ndarray]], licence: bool = True) -> Path:
    """An unpacked musicnn wheel: configuration.py, dist-info (licence, METADATA), both checkpoints."""
    package = root / "musicnn"
    package.mkdir(parents=True)
    (package / "configuration.py").write_text(
        f"SR = 16000\nMTT_LABELS = {MTT_TAGS!r}\n\nMSD_LABELS = {MSD_TAGS!r}\n", encoding="utf-8"
    )
    info = root / "musicnn-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: musicnn\nVersion: 0.1.0\n", encoding="utf-8")
    if licence:
        (info / "LICENSE.md").write_text(LICENCE, encoding="utf-8")
    for model, tensors in weights.items():
        (package / model).mkdir()
        write_checkpoint(str(package / model) + "/", tensors)
    return root


def zip_folder(folder: Path, wheel: Path) -> Path:
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return wheel


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, np.ndarray]]:
    return {"MTT_musicnn": tf_weights(len(MTT_TAGS), 1), "MSD_musicnn": tf_weights(len(MSD_TAGS), 2)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, weights: dict[str, dict[str, np.ndarray]]) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    return zip_folder(fake_package(root / "unpacked", weights), root / "musicnn-0.1.0-py3-none-any.whl")


# --- the reader -----------------------------------------------------------------------------------------------


def test_reader_round_trips_dtypes_shapes_and_many_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {f"layer_{i:02d}/w": rng.standard_normal((i % 4 + 1, 3)).astype("<f4") for i in range(30)}
    tensors.update(
        {
            "half": np.arange(6, dtype="<f2").reshape(2, 3),
            "count": np.array(7, "<i8"),
            "ids": np.arange(5, dtype="<i4"),
            "wide": rng.standard_normal(4).astype("<f8"),
        }
    )
    write_checkpoint(str(tmp_path / "ckpt"), tensors, per_block=5)
    checkpoint = Checkpoint(tmp_path / "ckpt")
    assert checkpoint.names() == sorted(tensors)
    for name, value in tensors.items():
        got = checkpoint.tensor(name)
        assert got.dtype == value.dtype.newbyteorder("=") and got.shape == value.shape
        np.testing.assert_array_equal(got, value)


def _damaged(tmp_path: Path, which: str, change) -> Checkpoint:
    write_checkpoint(
        str(tmp_path / "ckpt"), {"a/kernel": np.ones((4, 4), "<f4"), "b/bias": np.zeros(3, "<f4")}
    )
    path = tmp_path / f"ckpt.{which}"
    path.write_bytes(change(path.read_bytes()))
    return Checkpoint(tmp_path / "ckpt")


def _flip(offset: int):
    return lambda data: data[:offset] + bytes([data[offset] ^ 0x55]) + data[offset + 1 :]


@pytest.mark.parametrize(
    "which, change, reads, message",
    [
        ("index", lambda d: d[:-1] + b"\x00", False, "bad magic"),
        ("index", lambda d: d[:20], False, "too short"),
        ("index", lambda d: b"", False, "too short"),
        ("index", _flip(5), False, "checksum mismatch in the block"),
        ("data-00000-of-00001", lambda d: d[:40], True, "truncated"),
        ("data-00000-of-00001", _flip(10), True, "checksum mismatch in a/kernel"),
    ],
)
def test_damaged_checkpoints_name_the_file_and_problem(
    tmp_path: Path, which: str, change, reads: bool, message: str
) -> None:
    with pytest.raises(CheckpointError, match=message) as caught:
        _damaged(tmp_path, which, change).tensor("a/kernel")
    assert str(tmp_path) in str(caught.value)


def test_reader_refuses_missing_files_and_unknown_tensors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read the checkpoint index"):
        Checkpoint(tmp_path / "nothing")
    write_checkpoint(str(tmp_path / "ckpt"), {"a": np.ones(2, "<f4")})
    with pytest.raises(CheckpointError, match="no tensor named 'b'"):
        Checkpoint(tmp_path / "ckpt").tensor("b")
    (tmp_path / "ckpt.data-00000-of-00001").unlink()
    with pytest.raises(CheckpointError, match="cannot read the checkpoint data"):
        Checkpoint(tmp_path / "ckpt").tensor("a")


# --- the converter ----------------------------------------------------------------------------------------------


def test_import_converts_a_wheel_into_a_port_that_computes_the_tf_graph(
    wheel: Path, weights: dict[str, dict[str, np.ndarray]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["train", "import-musicnn", str(wheel), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tags"] == {"MTT_musicnn": len(MTT_TAGS), "MSD_musicnn": len(MSD_TAGS)}

    manifest = json.loads((out / "musicnn.json").read_text(encoding="utf-8"))
    assert manifest["models"]["MTT_musicnn"]["tags"] == MTT_TAGS
    assert manifest["models"]["MSD_musicnn"]["tags"] == MSD_TAGS
    assert manifest["source"]["version"] == "0.1.0"
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    import hashlib

    assert LICENCE in card and hashlib.sha256(wheel.read_bytes()).hexdigest() in card
    assert "moodtape train import-musicnn" in card

    patches = np.random.default_rng(3).uniform(0, 3, (1, 187, 96)).astype(np.float32)
    for name, tags in (("MTT_musicnn", MTT_TAGS), ("MSD_musicnn", MSD_TAGS)):
        model = Musicnn.load(name, folder=out)
        assert model.tags == tuple(tags)
        got = model.run_patches(torch.from_numpy(patches))
        rounded = {k: v.astype(np.float16).astype(np.float32) for k, v in weights[name].items()}
        want = musicnn_reference(patches, rounded)
        np.testing.assert_allclose(got["penultimate"].numpy(), want["penultimate"], atol=2e-3, rtol=1e-3)
        np.testing.assert_allclose(got["pooled"].numpy(), want["pooled"], atol=2e-3, rtol=1e-3)
        np.testing.assert_allclose(got["taggram"].numpy(), 1 / (1 + np.exp(-want["logits"])), atol=1e-3)


def test_import_reads_an_unpacked_folder_and_float16_halves_the_size(wheel: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    result = import_musicnn(folder / "musicnn", tmp_path / "out", "test")
    assert result["wheel_sha256"] is None
    params = json.loads((tmp_path / "out" / "musicnn.json").read_text(encoding="utf-8"))["models"][
        "MTT_musicnn"
    ]["parameters"]
    assert 770_000 < params < 800_000  # musicnn: ~790k weights (fewer here: 5 tags, not 50)
    assert 2 * params <= result["bytes"]["MTT_musicnn"] < 2 * params + 60_000  # float16 + header


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp, w: (tmp / "x.whl", (tmp / "x.whl").write_bytes(b"not a zip")), "not a readable wheel"),
        (lambda tmp, w: (zip_folder(_only_readme(tmp), tmp / "y.whl"), None), "not a musicnn wheel"),
        (lambda tmp, w: (tmp / "missing.whl", None), "no such file"),
        (lambda tmp, w: (fake_package(tmp / "nolicence", w, licence=False), None), "licence"),
    ],
)
def test_import_refuses_what_is_not_a_musicnn_wheel(
    tmp_path: Path, weights, make, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = make(tmp_path, weights)
    with pytest.raises(MusicnnImportError, match=message):
        import_musicnn(source, tmp_path / "out", "test")
    assert not (tmp_path / "out").exists()
    assert main(["train", "import-musicnn", str(source), "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def _only_readme(tmp: Path) -> Path:
    folder = tmp / "other"
    folder.mkdir()
    (folder / "README").write_text("hello", encoding="utf-8")
    return folder


def test_import_refuses_checkpoints_of_another_layout(weights, tmp_path: Path) -> None:
    wrong = dict(weights["MTT_musicnn"])
    wrong["conv2d/kernel"] = np.zeros((7, 40, 1, 204), "<f4")  # a 40-band timbral filter: not musicnn
    fake_package(tmp_path / "pkg", {"MTT_musicnn": wrong, "MSD_musicnn": weights["MSD_musicnn"]})
    with pytest.raises(CheckpointError, match=r"conv2d/kernel has shape \[204, 1, 7, 40\]"):
        import_musicnn(tmp_path / "pkg", tmp_path / "out", "test")
    missing = {k: v for k, v in weights["MTT_musicnn"].items() if not k.startswith("dense_1/")}
    fake_package(tmp_path / "pkg2", {"MTT_musicnn": missing, "MSD_musicnn": weights["MSD_musicnn"]})
    with pytest.raises(CheckpointError, match="no tensor named 'dense_1/kernel'"):
        import_musicnn(tmp_path / "pkg2", tmp_path / "out", "test")
    assert not (tmp_path / "out").exists()


def test_crc32c_matches_the_standard_check_values() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    assert crc32c(bytes(32)) == 0x8A9136AA and crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4
    data = np.random.default_rng(1).bytes(300_001)  # long inputs take the NumPy lanes: same as byte by byte
    assert crc32c(data) == tf_checkpoint._crc_bytes(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def test_bench_musicnn_reports_clips_per_second_for_all_and_bounded_patches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "musicnn", "--clips", "1", "--device", "cpu", "--max-patches", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threads"] == 1 and report["clip_s"] == 30.0
    full, bounded = report["cpu"]["all_patches"], report["cpu"]["max_patches_2"]
    assert full["patches_per_clip"] == 10 and bounded["patches_per_clip"] == 2
    assert full["clips_per_s_wall"] > 0 and bounded["median_cpu_s"] < full["median_cpu_s"]
