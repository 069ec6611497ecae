"""Generated texts and queries through the `moodtape` entry point, in process, as a person types them.

Whatever the input, the CLI answers (exit 0) or refuses in one line (exit 2): never a traceback, never the
"something went wrong" apology that marks a bug (exit 1).
"""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moodtape.bot.cli import main
from moodtape.core.links import client
from tests.fakes.dns import StubDNS
from tests.fuzz import strategies as gen

DEFAULT = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                          HealthCheck.data_too_large])
SLOW = settings(DEFAULT, max_examples=500)
#: A CLI chat opens an engine and loads the model (~0.3 s): fewer examples here, the engine fuzz has more.
CHAT = settings(DEFAULT, max_examples=15)
#: argv cannot carry a NUL byte (the kernel would end the string there), so the CLI never sees one.  Each
#: argument follows `--`: "-x" as an option is argparse's own usage error, tested elsewhere.
argv_text = gen.texts.map(lambda text: text.replace("\x00", ""))
argv_query = gen.queries.map(lambda text: text.replace("\x00", ""))


@pytest.fixture
def db(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """One database for a property's examples; generated links resolve no name (no network)."""
    monkeypatch.setattr(client, "system_resolve", StubDNS({}))
    return str(tmp_path_factory.mktemp("fuzz-cli") / "f.db")


def answered(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "something went wrong" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("moodtape: ") and len(err.strip()) > len("moodtape: "), err


@CHAT
@given(text=argv_text)
def test_chat_any_text(capsys: pytest.CaptureFixture[str], db: str, text: str) -> None:
    answered(capsys, "--db", db, "chat", "-k", "2", "--", text)


@DEFAULT
@given(query=argv_query, paths=st.booleans())
def test_similar_and_continue_any_query(capsys: pytest.CaptureFixture[str], db: str, query: str,
                                        paths: bool) -> None:
    answered(capsys, "--db", db, "similar", "-k", "2", "--", query)
    answered(capsys, "--db", db, "continue", "-k", "2", "--", "Wesnoth", query)


@CHAT
@given(lines=st.lists(st.binary(max_size=80), max_size=6))
def test_interactive_chat_survives_any_stdin(capsys: pytest.CaptureFixture[str], db: str,
                                             monkeypatch: pytest.MonkeyPatch, lines: list[bytes]) -> None:
    raw = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\nhappy\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="strict"))
    answered(capsys, "--db", db, "chat", "-k", "1")


@pytest.mark.slow
@SLOW
@given(text=argv_text, query=argv_query)
def test_cli_long_run(capsys: pytest.CaptureFixture[str], db: str, text: str, query: str) -> None:
    answered(capsys, "--db", db, "chat", "-k", "2", "--", text)
    answered(capsys, "--db", db, "similar", "-k", "2", "--", query)
    answered(capsys, "--db", db, "continue", "-k", "2", "--", query, "#1")
