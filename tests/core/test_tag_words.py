"""The sound words of chat messages, in English and Korean: what is asked for, what is asked away, and the
everyday phrases that only look like sound words ("rock bottom", "기타 등등")."""

from __future__ import annotations

import time

import pytest
from moodtape.core.audio.musicnn_tags import KINDS
from moodtape.core.mood.tag_words import _EN, _KO, TagQuery, parse_tags


@pytest.mark.parametrize(("text", "include", "exclude"), [
    ("something chill with piano", {"chill", "piano"}, set()),
    ("Play me some JAZZ with a female singer", {"jazz", "female vocals"}, set()),
    ("sad songs without vocals", {"sad", "instrumental"}, {"vocals"}),
    ("no vocals please", {"instrumental"}, {"vocals"}),
    ("hip-hop or R&B beats", {"hip-hop", "r&b", "beat"}, set()),
    ("80's rock and 90s pop", {"80s", "rock", "90s", "pop"}, set()),
    ("acoustic guitar, nothing too fast", {"acoustic", "guitar"}, {"fast"}),
    ("something upbeat but not rock", {"happy"}, {"rock"}),
    ("I don't want rock, I want jazz", {"jazz"}, {"rock"}),
    ("without drums or vocals but with strings", {"strings", "instrumental"}, {"drums", "vocals"}),
    ("anything but country", set(), {"country"}),
    ("vocal-free jazz", {"jazz", "instrumental"}, {"vocals"}),
    ("no, play some jazz", {"jazz"}, set()),  # the "no" answered something else
    ("🎹 please", {"piano"}, set()),
])
def test_english_messages(text: str, include: set[str], exclude: set[str]) -> None:
    query = parse_tags(text)
    assert (set(query.include), set(query.exclude)) == (include, exclude)


@pytest.mark.parametrize(("text", "include", "exclude"), [
    ("피아노로 잔잔한 곡 틀어줘", {"piano", "mellow"}, set()),
    ("기타랑 드럼이 있는 락", {"guitar", "drums", "rock"}, set()),
    ("재즈풍 바이올린 연주", {"jazz", "violin"}, set()),
    ("80년대 팝 듣고 싶어", {"80s", "pop"}, set()),
    ("여자 보컬 노래", {"female vocals"}, set()),
    ("여성보컬 재즈", {"female vocals", "jazz"}, set()),
    ("통기타 연주곡", {"guitar", "acoustic", "instrumental"}, set()),
    ("보컬 없는 슬픈 노래", {"sad", "instrumental"}, {"vocals"}),
    ("가사 없는 노래", {"instrumental"}, {"vocals"}),
    ("드럼이나 기타 없는 재즈", {"jazz"}, {"drums", "guitar"}),
    ("락 말고 재즈", {"jazz"}, {"rock"}),
    ("힙합은 빼고 신나는 파티 음악", {"happy", "party"}, {"hip-hop"}),
    ("드럼없는 곡", set(), {"drums"}),
    ("드럼 들어간 거 말고 피아노", {"piano"}, {"drums"}),
    ("재즈 아니면 블루스", {"jazz", "blues"}, set()),  # 아니면 is "or", not "not"
])
def test_korean_messages_with_particles_and_negation(text: str, include: set[str], exclude: set[str]) -> None:
    query = parse_tags(text)
    assert (set(query.include), set(query.exclude)) == (include, exclude)


@pytest.mark.parametrize("text", [
    "I hit rock bottom today", "she's been my rock solid friend", "no strings attached", "happy birthday to me",
    "I'm in a funk", "we drove out to the country", "pop over later?", "watching a soap opera",
    "기타 등등 아무거나", "기타등등", "및 기타 의견", "집에 가요", "연락 주세요", "안녕 오늘 기분 좋아",
])
def test_everyday_phrases_are_no_sound_words(text: str) -> None:
    assert parse_tags(text) == TagQuery()


def test_the_guitar_is_still_heard_next_to_the_ambiguous_word() -> None:
    assert parse_tags("기타 소리가 좋은 노래").include == ("guitar",)
    assert parse_tags("rock music for the rock bottom days").include == ("rock",)


def test_asking_for_a_word_and_asking_it_away_asks_it_away() -> None:
    query = parse_tags("piano, but no piano solo")
    assert "piano" in query.exclude and "piano" not in query.include


@pytest.mark.parametrize("text", ["", "   ", "😀🎶✨" * 300, "こんにちは、ピアノ", "🤷", "\x00\x01", "rain " * 20_000,
                                  "드럼" * 10_000, "기타" + "요" * 5_000])
def test_any_text_gives_a_query_quickly_and_never_fails(text: str) -> None:
    started = time.perf_counter()
    query = parse_tags(text)
    assert isinstance(query, TagQuery)
    assert time.perf_counter() - started < 2.0


def test_no_text_is_an_empty_query() -> None:
    assert not parse_tags(None) and not parse_tags(42) and not parse_tags("")


def test_every_word_list_names_a_musicnn_tag() -> None:
    assert set(_EN) <= set(KINDS) and set(_KO) <= set(KINDS)
    assert set(KINDS) - {"solo"} <= set(_EN)  # every tag but "solo" (only next to an instrument) has words
