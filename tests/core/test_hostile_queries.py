"""Issue 13 items 6-8: huge ids, titles that look like paths, and text no tokenizer or terminal accepts.

Each input below is one the issue reported; each must end in a result or a clear `MoodtapeError`.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodtape.bot.cli import main
from moodtape.core.errors import QueryError, UserError
from moodtape.core.mood.reader import prepare_text
from moodtape.core.recommend.similar import query_text, track_id
from moodtape.core.text import clean_text
from tests.fuzz.helpers import LoopEngine, engine_on_loop

#: `chat $'\xff\xfe bad \xc3'` as Python hands it over from argv (undecodable bytes as surrogate escapes).
ARGV_GARBAGE = b"\xff\xfe bad \xc3".decode("utf-8", "surrogateescape")
HUGE_IDS = ["99999999999999999999999", "#99999999999999999999999", "9" * 5000, "#" + "9" * 5000,
            "-5", "#-5", "9223372036854775808", "0", "#0"]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopEngine]:
    with engine_on_loop(tmp_path_factory.mktemp("hostile-queries")) as opened:
        yield opened


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database (and demo catalogue) for every CLI call here."""
    return str(tmp_path_factory.mktemp("hostile-cli") / "q.db")


# ------------------------------------------------------------------ item 6: ids
@pytest.mark.parametrize("query", HUGE_IDS)
def test_an_id_out_of_sqlite_range_is_no_such_track(query: str) -> None:
    with pytest.raises(QueryError, match=r"there is no track #-?\d+"):
        track_id(query)


def test_ids_in_range_are_parsed_and_other_text_is_not_an_id() -> None:
    assert track_id("42") == 42 and track_id("#42") == 42 and track_id("9223372036854775807") == 2**63 - 1
    assert track_id("#" + "0" * 30 + "7") == 7
    assert track_id("4 2") is None and track_id("Blue Monday") is None and track_id("42x") is None


@pytest.mark.parametrize("query", HUGE_IDS)
def test_huge_ids_through_the_engine_the_bots_call(loop: LoopEngine, query: str) -> None:
    assert "no track #" in loop.outcome(loop.engine.similar(query))
    assert "no track #" in loop.outcome(loop.engine.continue_playlist(["Wesnoth", query]))


def test_huge_ids_on_the_command_line(capsys: pytest.CaptureFixture[str], db: str) -> None:
    for query in ("99999999999999999999999", "9" * 5000, "-5"):
        code = main(["--db", db, "similar", query])
        err = capsys.readouterr().err
        assert code == 2 and "no track #" in err and "wrong" not in err and len(err) < 200


# ------------------------------------------------------------------ item 7: titles are not paths
@pytest.mark.parametrize("query", ["a" * 300, "é" * 200 + "/x", "~nosuchuser/x", "~nosuchuser", "q\x00zq"])
@pytest.mark.parametrize("paths", [False, True])
def test_titles_that_are_no_file_are_searched_as_text(loop: LoopEngine, query: str, paths: bool) -> None:
    assert "no track in the catalogue matches" in loop.outcome(loop.engine.similar(query, paths=paths))


def test_without_paths_the_file_system_is_not_looked_at(loop: LoopEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def touched(*_: object) -> None:
        raise AssertionError("a title search touched the file system")

    monkeypatch.setattr(Path, "expanduser", touched)
    monkeypatch.setattr(Path, "is_file", touched)
    assert "no track" in loop.outcome(loop.engine.similar("~nosuchuser/x"))
    assert loop.run(loop.engine.similar("Wesnoth", 2)).tracks


def test_long_titles_and_unknown_users_on_the_command_line(capsys: pytest.CaptureFixture[str], db: str) -> None:
    for query in ("a" * 300, "~nosuchuser/x"):
        code = main(["--db", db, "similar", query])
        err = capsys.readouterr().err
        assert code == 2 and "no track in the catalogue matches" in err


def test_an_overlong_query_is_refused_plainly(loop: LoopEngine) -> None:
    assert "too long" in loop.outcome(loop.engine.similar("x" * 100_000))


# ------------------------------------------------------------------ item 8: text
def test_clean_text_keeps_words_and_drops_what_breaks_tokenizers() -> None:
    assert clean_text(ARGV_GARBAGE) == "\ufffd\ufffd bad \ufffd"
    assert clean_text("\ud83d\ude00 ok") == "\U0001f600 ok"  # a pair written as two escapes is one emoji
    assert clean_text("\ud800 x\x00y\tz\x1b\x7f\x85") == "\ufffd xy z "
    assert clean_text("abcdef", 3) == "abc" and clean_text("日本語 😭") == "日本語 😭"
    clean_text("\udfff" * 10).encode("utf-8")  # never raises


def test_prepare_text_never_passes_surrogates_or_controls_on() -> None:
    prepared = prepare_text("sad\udcff\x00 day\ud800 " + "x" * 10_000)
    prepared.encode("utf-8")
    assert prepared.startswith("sad day x") and len(prepared) <= 4000


@pytest.mark.parametrize("text", [
    ARGV_GARBAGE, "\ud800", "\udfff sad", "i am \x00 so happy", "\x1b[31mangry\x1b[0m", "\x07" * 50, "",
    "   \t\n ", "\x00", "😭" * 5000, "a" * 1_000_000, "\u202etxet\u202c", "\ufeff\ufffe\uffff", "기분이 좋아\udcff",
])
def test_any_text_gets_a_mood_reading(loop: LoopEngine, text: str) -> None:
    result = loop.run(loop.engine.chat(text, 2))
    assert 0.0 <= result.mood.confidence <= 1.0 and len(result.tracks) == 2
    result.mood.text.encode("utf-8")


def test_undecodable_argv_text_on_the_command_line(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code = main(["--db", db, "chat", ARGV_GARBAGE, "-k", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and "I read" in out and err == ""
    code = main(["--db", db, "similar", ARGV_GARBAGE])
    err = capsys.readouterr().err
    assert code == 2 and "no track in the catalogue matches \"\ufffd\ufffd bad \ufffd\"" in err


def test_an_unknown_strategy_echo_is_clean(loop: LoopEngine) -> None:
    with pytest.raises(UserError, match="unknown strategy") as caught:
        loop.run(loop.engine.set_strategy("u1", "\udcff" + "x" * 500))
    str(caught.value).encode("utf-8")
    assert len(str(caught.value)) < 120


def test_one_undecodable_stdin_line_does_not_end_the_chat(capsys: pytest.CaptureFixture[str], db: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = b"happy\n\xff\xfe bad \xc3\n/k 99999999999999999999\n/k \xc2\xb2\nsad day\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines), encoding="utf-8", errors="strict"))
    code = main(["--db", db, "chat", "-k", "1"])
    out, err = capsys.readouterr()
    assert code == 0 and out.count("I read") == 3 and out.count("usage: /k N") == 2 and "wrong" not in err


def test_query_text_is_cleaned_once_for_every_front_end() -> None:
    assert query_text("  #42\x00 ") == "#42"
    with pytest.raises(QueryError, match="tell me a song"):
        query_text("\x00\x01 \t")
