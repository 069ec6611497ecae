"""Exit status of the CLI (issue 13, item 10): 0 all done, 1 some items failed, 2 usage error or refusal.

A command that did not do everything it was asked must not exit 0: a script (`moodtape add ... && ...`) or
cron would take a failed download for a success.  Links point at the local fake web (tests/fakes/http_server.py);
Deezer links are used where the download must fail *at embedding*, because a Deezer link is resolved through
the API and its preview is only fetched when the track is embedded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from tests.conftest import AUDIO, FIXTURES
from tests.fakes.http_server import FakeWeb


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as server:
        server.add_deezer(11, "Fine", "The Control", preview="/audio/pad_b.mp3")
        server.add_deezer(12, "Too Big", "The Cap", preview="/endless")
        server.add_deezer(13, "Web Page", "The Sniffer", preview="/page.mp3")
        server.add_deezer(14, "Nowhere", "The Closed Port")
        server.deezer[14]["preview"] = "http://127.0.0.1:1/x.mp3"  # nothing listens on port 1
        server.add_deezer(15, "Not Now", "The Flaky", preview="/flaky/beat_a.ogg")
        yield server


@pytest.fixture
def db(web: FakeWeb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for key, value in {"MOODTAPE_ALLOW_PRIVATE_NETWORKS": "1", "MOODTAPE_DEEZER_API_URL": web.url("/deezer"),
                       "MOODTAPE_DEMO": "never", "MOODTAPE_DATA_DIR": str(tmp_path / "data"),
                       "MOODTAPE_DOWNLOAD_TIMEOUT_S": "10", "MOODTAPE_DOWNLOAD_MAX_BYTES": "400000"}.items():
        monkeypatch.setenv(key, value)
    return str(tmp_path / "lib.db")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "went wrong" not in out + err and "Traceback" not in out + err
    return code, out, err


def deezer(track_id: int) -> str:
    return f"https://www.deezer.com/en/track/{track_id}"


def test_a_link_that_is_added_and_embedded_exits_0(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, _ = run(capsys, "--db", db, "add", deezer(11))
    assert code == 0 and "-> ready" in out


@pytest.mark.parametrize("track_id, shown", [
    (12, "-> failed (the download is over the limit"),  # over MOODTAPE_DOWNLOAD_MAX_BYTES once downloaded
    (13, "-> failed (the link gives"),  # a web page where the preview should be
    (14, "-> pending (cannot reach 127.0.0.1"),  # unreachable: kept for a retry, but not done
])
def test_add_url_whose_download_fails_at_embedding_exits_1(
    capsys: pytest.CaptureFixture[str], db: str, track_id: int, shown: str
) -> None:
    code, out, _ = run(capsys, "--db", db, "add", deezer(track_id))
    assert code == 1, out
    assert shown in out  # the text is unchanged: only the status says more now


def test_a_transient_server_error_at_embedding_exits_1(capsys: pytest.CaptureFixture[str], db: str,
                                                       web: FakeWeb) -> None:
    web.fail_next["/flaky/beat_a.ogg"] = [503]
    code, out, _ = run(capsys, "--db", db, "add", "--json", deezer(15))
    assert code == 1 and '"status": "pending"' in out and "503" in out


def test_links_and_files_together_count_every_failure(capsys: pytest.CaptureFixture[str], db: str,
                                                      web: FakeWeb) -> None:
    code, out, err = run(capsys, "--db", db, "add", str(AUDIO / "pad_a.wav"), web.url("/page.html"))
    assert code == 1 and "added 1 track(s), 1 ready" in out and "page.html" in err


def test_add_no_embed_exits_1_only_for_refused_links(capsys: pytest.CaptureFixture[str], db: str,
                                                     web: FakeWeb) -> None:
    code, _, _ = run(capsys, "--db", db, "add", "--no-embed", deezer(12))
    assert code == 0  # recorded as pending, as asked
    code, _, err = run(capsys, "--db", db, "add", "--no-embed", web.url("/page.html"))
    assert code == 1 and "web page" in err


def test_add_a_folder_with_some_bad_files_exits_1(capsys: pytest.CaptureFixture[str], db: str,
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "music"
    folder.mkdir()
    shutil.copy(AUDIO / "pad_a.mp3", folder)
    shutil.copy(AUDIO / "notes.txt", folder)  # no audio extension: skipped, which is not a failure
    code, out, _ = run(capsys, "--db", db, "add", str(folder))
    assert code == 0 and "added 1 track(s), 1 ready" in out
    shutil.copy(AUDIO / "corrupt.mp3", folder)
    shutil.copy(AUDIO / "beat_a.ogg", folder)
    code, out, err = run(capsys, "--db", db, "add", str(folder))
    assert code == 1 and "added 2 track(s), 1 ready" in out and "corrupt.mp3: not an audio file" in err


def test_embed_with_failures_exits_1(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.ogg", tmp_path / "bad.mp3"
    shutil.copy(AUDIO / "beat_a.ogg", good)
    bad.write_bytes((AUDIO / "pad_b.mp3").read_bytes())
    code, _, _ = run(capsys, "--db", db, "add", "--no-embed", str(good), str(bad))
    assert code == 0
    bad.write_bytes(b"\x00" * 4096)  # spoiled between `add --no-embed` and `embed`
    code, out, err = run(capsys, "--db", db, "embed")
    assert code == 1 and "1 track(s) ready, 1 failed" in out and "bad.mp3" in err
    code, out, _ = run(capsys, "--db", db, "embed")
    assert code == 0 and "0 track(s) ready, 0 failed" in out  # nothing left to do is all done


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_embed_limit_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str], db: str, limit: str) -> None:
    code, out, err = run(capsys, "--db", db, "embed", "--limit", limit)
    assert code == 2 and err.strip() == "moodtape: --limit must be at least 1" and out == ""


def test_import_with_skipped_rows_exits_1(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    code, _, _ = run(capsys, "--db", db, "import", str(FIXTURES / "mpd_slice.json"))
    assert code == 0
    code, _, err = run(capsys, "--db", db, "import", str(FIXTURES / "catalogue.csv"))
    assert code == 1 and "skipped: line 4: no title" in err  # the fixture's row without a title
    path = tmp_path / "cat.csv"
    path.write_text("title,artist\nGood,A\nBad,B,extra\n", encoding="utf-8")
    code, out, err = run(capsys, "--db", db, "import", str(path))
    assert code == 1 and "1 new track(s)" in out and "1 row(s) skipped" in out and "line 3" in err
