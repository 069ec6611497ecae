"""The CSV catalogue format, read row by row from a stream of text.

Format (UTF-8, header row, standard quoting): `title` (required), `artist`, `album`, `duration_s`, `url`,
`external_id`, `licence`, and optionally `playlist` (name) with `position`: rows that share a playlist name
become one playlist, ordered by position (or file order).

A bad row (no title, a bad number, more fields than the header, a field over the csv module's limit) is
reported with its line and skipped.  A gzip file cut off loses its last, incomplete line: it is reported
rather than imported half.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from moodtape.core.pipeline.documents import Document, ImportFormatError
from moodtape.core.pipeline.import_fields import BadEntry, ImportItem, duration, ident, show, text
from moodtape.core.pipeline.import_report import ImportReport
from moodtape.core.text import byte_size

__all__ = ["CsvRow", "csv_rows"]

#: A physical line longer than this is handed to the csv module in pieces (no good row is this long:
#: fields stop at the module's 128 KB limit), so one endless line cannot fill the memory.
MAX_LINE_CHARS = 4 * 1024 * 1024


@dataclass(frozen=True)
class CsvRow:
    playlist: str | None
    position: int
    item: ImportItem


def _lines(texts: Iterator[str], cut: bool) -> Iterator[str]:
    """Lines with their endings (\\n, \\r or \\r\\n, as `open(newline="")` splits them) from text chunks.

    When `cut`, the text after the last line ending is an incomplete line and is dropped.
    """
    carry = ""
    for chunk in texts:
        lines = io.StringIO(carry + chunk, newline="").readlines()
        carry = lines.pop() if lines else ""
        if carry.endswith("\r") and not carry.endswith("\n"):
            pass  # a "\r" at the end of a chunk may be the first half of "\r\n": wait for the next chunk
        elif carry.endswith(("\n", "\r")):
            lines.append(carry)
            carry = ""
        yield from lines
        while len(carry) > MAX_LINE_CHARS:
            yield carry[:MAX_LINE_CHARS]
            carry = carry[MAX_LINE_CHARS:]
    if carry and (not cut or carry.endswith("\r")):
        yield carry


def _csv_error(exc: csv.Error) -> str:
    big = "field limit" in str(exc)
    return f"a field is longer than {byte_size(csv.field_size_limit())}" if big else f"not valid CSV ({exc})"


def _row(row: dict[str, str], number: int) -> CsvRow:
    title = text(row, "title")
    if not title:
        raise BadEntry("no title")
    position_text = (row.get("position") or "").strip()
    try:
        position = int(position_text) if position_text else number
    except ValueError:
        raise BadEntry(f"position {show(position_text)} is not a whole number") from None
    return CsvRow(text(row, "playlist"), position, ImportItem(
        title=title, artist=text(row, "artist"), album=text(row, "album"),
        duration_s=duration(row, "duration_s", 1.0), url=ident(row, "url"),
        external_id=ident(row, "external_id"), licence=text(row, "licence") or text(row, "license"),
    ))


def csv_rows(doc: Document, report: ImportReport, progress: Callable[[int], None] | None = None
             ) -> Iterator[CsvRow]:
    """The good rows in file order; bad ones reported by line (see the module docstring)."""
    reader = csv.reader(_lines(doc.texts(progress), doc.cut))
    header: list[str] | None = None
    number, start = 0, 1  # records seen (the default position), first line of the next record
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if header is None:
                raise ImportFormatError(f"{doc.name}: the header line is not valid CSV: {_csv_error(exc)}") from exc
            report.skip(f"line {start}", _csv_error(exc))
            number, start = number + 1, reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not fields:  # a blank line
            continue
        if header is None:
            header = [name.strip().lower() for name in fields]
            if "title" not in header:
                break
            continue
        number += 1
        if len(fields) > len(header):
            report.skip(f"line {line}", f"{len(fields)} fields, but the header has {len(header)}")
            continue
        try:
            row = _row(dict(zip(header, fields)), number - 1)
        except BadEntry as bad:
            report.skip(f"line {line}", str(bad))
            continue
        yield row
    if header is None or "title" not in header:
        if doc.cut:
            raise ImportFormatError(f"{doc.name}: the gzip file is truncated before its first row")
        raise ImportFormatError(f"{doc.name}: the CSV needs a 'title' column")
    if doc.cut:
        report.skip(f"line {start}", "the gzip file is truncated here; the rest of the file is lost")
