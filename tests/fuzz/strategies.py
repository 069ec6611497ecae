"""Generated hostile input: any text a person or an attacker can send, and song queries of every shape.

Texts cover any code point (lone surrogates included, as a JSON "\\ud800" or Python's escapes of undecodable
argv/stdin bytes give them), raw bytes decoded with `surrogateescape`, control characters, scripts mixed
with emoji, and lengths up to a megabyte.  Queries are ids of any length and sign, `#ids`, `~user/...`,
titles past the file system's name limit, link-like garbage and "artist - title" forms.
"""

from __future__ import annotations

from hypothesis import strategies as st

ANY_CHAR = st.characters(exclude_categories=())  # every code point, surrogates included
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x9F).filter(lambda ch: not ch.isalnum())
SCRIPTS = st.sampled_from(["sad", "기분이 좋아", "我很难过", "Я злой", "😭", "🎉🎉", "العربية", "\u202e", "\ufeff", " "])

argv_bytes = st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
huge = st.tuples(st.sampled_from(["x", "😭 ", "\udcff", "\x00", "happy ", "기"]),
                 st.integers(1_000, 1_000_000)).map(lambda pair: pair[0] * (pair[1] // len(pair[0])))
mixed = st.lists(st.one_of(st.text(ANY_CHAR, max_size=20), st.text(CONTROL, max_size=5), SCRIPTS, argv_bytes),
                 max_size=8).map("".join)

#: Chat messages: the shapes above, each also as the only thing in the message.
texts = st.one_of(st.text(ANY_CHAR, max_size=300), argv_bytes, st.text(CONTROL, max_size=40), mixed, huge,
                  st.sampled_from(["", " ", "\t\n", "\x00", "\udcff\udcfe bad \udcc3"]))

digits = st.one_of(st.integers(min_value=0).map(str), st.integers(1, 6_000).map(lambda n: "9" * n),
                   st.text("0123456789", min_size=1, max_size=40))
ids = st.tuples(st.sampled_from(["", "#", "-", "#-", " #", "# "]), digits).map("".join)
home = st.tuples(st.sampled_from(["~", "~nosuchuser", "~root", "~/"]), st.text(ANY_CHAR, max_size=30)).map(
    lambda pair: f"{pair[0]}/{pair[1]}")
long_titles = st.tuples(st.sampled_from(["a", "é", "/", "日", "x/"]), st.integers(200, 5_000)).map(
    lambda pair: pair[0] * pair[1])
#: Links that never leave the machine: a literal private address (refused) or a name that does not resolve.
links = st.tuples(
    st.sampled_from(["http://", "https://", "HTTPS://", "http:", "htp://", "ftp://", "www.", "http://127.0.0.1:1/",
                     "https://[::1]/", "http://10.0.0.1/", "http://0x7f000001/", "https://xn--/", "http://a..b/"]),
    st.text(ANY_CHAR.filter(lambda ch: not ch.isspace()), max_size=60)).map("".join)
artist_title = st.tuples(st.text(ANY_CHAR, max_size=40), st.sampled_from([" - ", " – ", " — ", "-", " -- "]),
                         st.text(ANY_CHAR, max_size=40)).map("".join)

#: Song queries (`similar`, each seed of `continue`).
queries = st.one_of(ids, home, long_titles, links, artist_title, st.text(ANY_CHAR, max_size=80), argv_bytes,
                    st.sampled_from(["", " ", "Wesnoth", "#1", "1", "~nosuchuser/x", "\x00"]))
