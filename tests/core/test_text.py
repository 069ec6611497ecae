from moodtape.core.text import match_key, split_artist_title


def test_match_key_ignores_case_accents_and_version_suffixes() -> None:
    assert match_key("Beyoncé", "Halo (Live)") == match_key("BEYONCE", "halo")
    assert match_key("A & B", "Song feat. C") == match_key("a", "song")
    assert match_key("x", "Song - Remastered") != match_key("y", "Song")


def test_split_artist_title() -> None:
    assert split_artist_title("New Order - Blue Monday") == ("New Order", "Blue Monday")
    assert split_artist_title("Blue-Monday") == (None, "Blue-Monday")
