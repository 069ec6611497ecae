"""What a body is, from its first bytes: an audio container we can decode, or something to name in a refusal.

Audio is sniffed by its magic bytes before anything is written for the decoder, so a link that serves a web
page, an error in JSON or an image is refused with a clear reason instead of reaching ffmpeg.
"""

from __future__ import annotations

__all__ = ["SNIFF_BYTES", "sniff_audio", "describe_content"]

#: Bytes read to recognise a format (the longest signature we check needs 12).
SNIFF_BYTES = 64


def sniff_audio(head: bytes) -> str | None:
    """The audio container `head` starts with ("mp3", "ogg", "flac", ...), or None."""
    if head.startswith(b"ID3"):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "wma"
    if head.startswith(b"MAC ") or head.startswith(b"wvpk") or head.startswith(b"caff"):
        return {b"MAC ": "ape", b"wvpk": "wv", b"caff": "caf"}[head[:4]]
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0 and head[1] & 0x06 == 0:
        return "aac"  # ADTS: 12 sync bits, layer 00
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
        bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
        if version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "mp3"  # MPEG audio frame sync without an ID3 tag
    return None


def describe_content(head: bytes, content_type: str | None) -> str:
    """What a non-audio body looks like, in words for the refusal message."""
    text = head.lstrip()[:64].lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "a web page"
    if text.startswith((b"{", b"[")):
        return "JSON data"
    if text.startswith(b"#extm3u"):
        return "a streaming playlist"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "an image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b")):
        return "an archive"
    if not head:
        return "an empty response"
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and not declared.startswith(("audio/", "video/", "application/octet-stream")):
        return f"{declared} content"
    return "data in no audio format we know (a corrupt or mislabelled file)"
