"""`moodtape export` as a person uses it: one step from a question to a playlist file another program opens."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import imageio_ffmpeg
import jsonschema
import pytest
from moodtape.bot.cli import main
from moodtape.core.playlist_files import XSPF_NAMESPACE

from tests.conftest import FIXTURES

SCHEMA = json.loads((FIXTURES / "export" / "jspf.schema.json").read_text())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_mood_to_jspf_on_the_demo_catalogue(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "sad.jspf"
    code, _, err = run(capsys, "--db", str(tmp_path / "x.db"), "export", "--mood",
                       "I failed my exam and everything feels hopeless", "-k", "4", "--out", str(out_file))
    assert code == 0 and "wrote 4 song(s)" in err
    data = json.loads(out_file.read_text(encoding="utf-8"))
    jsonschema.validate(data, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    playlist = data["playlist"]
    assert "I failed my exam" in playlist["title"] and len(playlist["track"]) == 4
    # demo songs link to their Debian package page, then to searches a person can follow
    assert all(t["location"][0].startswith("https://packages.debian.org/") for t in playlist["track"])
    assert all(any("deezer.com/search" in link for link in t["location"]) for t in playlist["track"])


def test_similar_to_m3u8_of_local_files_that_ffmpeg_decodes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, audio_dir: Path) -> None:
    db = str(tmp_path / "lib.db")
    run(capsys, "--db", db, "add", str(audio_dir))
    out_file = tmp_path / "like pad.m3u8"
    code, _, _ = run(capsys, "--db", db, "export", "--similar", str(audio_dir / "pad_b.mp3"), "-k", "3",
                     "--out", str(out_file))
    assert code == 0
    lines = out_file.read_bytes().decode("utf-8").splitlines()  # UTF-8, as the .m3u8 suffix promises
    assert lines[0] == "#EXTM3U"
    entries = [line for line in lines if line and not line.startswith("#")]
    assert len(entries) == 3 and sum(line.startswith("#EXTINF:") for line in lines) == 3
    for entry in entries:
        path = Path(entry)
        assert path.is_absolute() and path.parent == audio_dir
        decoded = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", entry, "-f", "null", "-"],
                                 check=False, capture_output=True, timeout=60)
        assert decoded.returncode == 0, decoded.stderr


def test_xspf_to_standard_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--db", str(tmp_path / "x.db"), "export", "--similar", "Wesnoth", "-k", "2",
                       "--format", "xspf")
    assert code == 0
    root = ElementTree.fromstring(out.encode("utf-8"))
    assert len(root.findall(f"{{{XSPF_NAMESPACE}}}trackList/{{{XSPF_NAMESPACE}}}track")) == 2


def test_mistakes_are_one_line_and_write_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    code, _, err = run(capsys, "--db", db, "export", "--mood", "happy", "--out", str(tmp_path / "songs.txt"))
    assert code == 2 and "--format jspf, xspf or m3u8" in err
    code, _, err = run(capsys, "--db", db, "export", "--mood", "happy", "--out", str(tmp_path / "no" / "a.jspf"))
    assert code == 2 and "does not exist" in err
    assert not [p.name for p in tmp_path.iterdir() if "songs" in p.name or p.name == "no"]
    with pytest.raises(SystemExit):  # argparse: one of --mood/--similar/--continue is required
        main(["--db", db, "export", "--format", "jspf"])
