"""Text shared by imports, matching, queries and messages: normalisation, "artist - title", byte sizes."""

from __future__ import annotations

import re
import unicodedata

_BRACKETS = re.compile(r"\s*[\(\[][^\)\]]*(?:remaster|live|version|edit|mix|feat\.?|ft\.|mono|stereo)[^\)\]]*[\)\]]",
                       re.IGNORECASE)
_FEAT = re.compile(r"\s+(?:feat\.?|ft\.|featuring)\s+.*$", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SEPARATOR = re.compile(r"\s+[-\u2013\u2014]\s+")
#: Control characters (C0, DEL, C1): the whitespace ones become a space, the rest (NUL, escapes, bells) go.
_CONTROLS = {code: (" " if chr(code).isspace() else None) for code in (*range(0x20), *range(0x7F, 0xA0))}


def clean_text(text: str, max_chars: int | None = None) -> str:
    """Text from a person (argv, stdin, a chat message) made safe for every tokenizer, SQL binding and reply.

    Lone surrogates (a JSON "\\ud800", or the escapes Python gives undecodable argv/stdin bytes) make fast
    tokenizers raise TypeError and SQLite and UTF-8 output raise UnicodeEncodeError, so they become U+FFFD
    (a surrogate pair written as two escapes is joined into its character); control characters and NULs are
    dropped (tabs and newlines become spaces).  `max_chars` cuts first, so a pasted megabyte costs nothing.
    """
    if max_chars is not None:
        text = text[:max_chars]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.translate(_CONTROLS)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).strip()


def match_key(artist: str | None, title: str) -> str:
    """A key under which the same recording from different sources collides.

    Case, accents, punctuation, "(Remastered 2011)"-style suffixes and featured artists are ignored, so
    "Beyoncé - Halo (Live)" from a playlist matches the file tagged "BEYONCE / Halo".
    """
    clean_title = _FEAT.sub("", _BRACKETS.sub("", title))
    first_artist = re.split(r"\s*(?:,|&| and | x |;)\s*", artist or "", maxsplit=1)[0]
    return f"{_fold(first_artist)}|{_fold(clean_title)}"


def split_artist_title(text: str) -> tuple[str | None, str]:
    """"Artist - Title" -> ("Artist", "Title"); text without a spaced dash -> (None, text)."""
    parts = _SEPARATOR.split(text.strip(), maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0].strip(), parts[1].strip()
    return None, text.strip()


def byte_size(size: float) -> str:
    """A byte count for people, in binary units like the limits in the settings: "20 MB", "3.2 MB", "840 KB".

    One convention everywhere (refusals from the link client, the decoder, ingestion and the bots), so a
    limit configured as 200 MiB reads "200 MB" in every message that names it.
    """
    mib = size / (1024 * 1024)
    if mib >= 10:
        return f"{mib:.0f} MB"
    if mib >= 1:
        return f"{mib:.1f} MB"
    return f"{size / 1024:.0f} KB"
