"""Reading subscriber CSV files safely: encoding, delimiter, line numbers, huge fields.

- UTF-8 with or without a BOM; the whole file is checked before anything is imported, so a
  file in another encoding is refused up front (with the line and byte where it went wrong)
  instead of being half-imported.
- LF or CRLF line ends, quoted fields holding commas, quotes and newlines (the csv module).
- The delimiter (',' ';' or tab) is detected from the header row.
- Every row comes with the line it starts on; a row the csv module cannot read becomes a
  ``RawRow`` with an ``error`` instead of stopping the import.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SubscriberError

CSV_FIELD_LIMIT = 64 * 1024 * 1024  # the csv module refuses longer fields (a runaway quote)
DELIMITERS = (",", ";", "\t")
_CHUNK = 1024 * 1024
UTF8_FIX = "save it as UTF-8 (in a spreadsheet: Save As, 'CSV UTF-8') and import again"


@dataclass(slots=True)
class RawRow:
    line: int  # the line of the file the row starts on (the header is line 1)
    fields: list[str]
    error: str = ""  # set when the csv module could not read the row


def check_encoding(path: Path) -> str:
    """'utf-8-sig' or 'utf-8' for a file that decodes cleanly; SubscriberError otherwise."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise SubscriberError("file not found", path=path, fix="check the path") from None
    except IsADirectoryError:
        raise SubscriberError("is a folder, not a CSV file", path=path) from None
    with fh:
        head = fh.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise SubscriberError("the file is UTF-16, not UTF-8", path=path, line=1, fix=UTF8_FIX)
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset, line = 0, 1
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                # exc.start counts from the start of this chunk plus what the decoder held back.
                held = len(exc.object) - len(chunk)
                bad = offset - held + exc.start
                before = exc.object[: exc.start]
                line += before.count(b"\n")
                byte = exc.object[exc.start]
                raise SubscriberError(
                    f"the file is not UTF-8: byte 0x{byte:02X} at offset {bad} cannot be decoded",
                    path=path,
                    line=line,
                    fix=UTF8_FIX,
                ) from None
            if final:
                return encoding
            line += chunk.count(b"\n")
            offset += len(chunk)


def detect_delimiter(header_line: str, wanted: Callable[[list[str]], bool]) -> str:
    """The delimiter that splits the header into a recognisable header (else the most
    columns; ',' on a tie)."""
    best, best_n = ",", 0
    for delimiter in DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        if wanted(fields):
            return delimiter
        if len(fields) > best_n:
            best, best_n = delimiter, len(fields)
    return best


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


class CsvSource:
    """An open CSV file: ``header`` and an iterator of ``RawRow``; ``position`` in bytes."""

    def __init__(self, path: Path, wanted: Callable[[list[str]], bool]) -> None:
        self.path = path
        encoding = check_encoding(path)
        self.size = path.stat().st_size
        self._raw = path.open("rb")
        self._text = io.TextIOWrapper(self._raw, encoding=encoding, newline="")
        first = self._text.readline()
        self.delimiter = detect_delimiter(first.rstrip("\r\n"), wanted)
        self._text.seek(0)
        # strict: a quote that is never closed is an error, not the rest of the file
        # silently read into one field.
        self._reader = csv.reader(self._text, delimiter=self.delimiter, strict=True)
        with _field_limit(CSV_FIELD_LIMIT):
            try:
                self.header = [h.strip() for h in next(self._reader)]
            except StopIteration:
                self.header = []
            except csv.Error as exc:
                raise SubscriberError(
                    f"cannot read the header row: {exc}", path=path, line=1
                ) from None
        self._line = self._reader.line_num

    @property
    def position(self) -> int:
        try:
            return min(self._raw.tell(), self.size)
        except ValueError:
            return self.size

    def rows(self) -> Iterator[RawRow]:
        with _field_limit(CSV_FIELD_LIMIT):
            while True:
                start = self._line + 1
                try:
                    fields = next(self._reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    self._line = self._reader.line_num
                    reason = str(exc)
                    if "field larger than field limit" in reason:
                        reason = "a field is longer than 64 MB (is a quote left open?)"
                    elif "NUL" in reason:
                        reason = "the row contains a NUL character"
                    elif "unexpected end of data" in reason:
                        reason = (
                            "a quoted field is never closed (the rest of the file was read into it)"
                        )
                    elif "expected after" in reason:
                        reason = f"a quote in the middle of a field ({reason})"
                    yield RawRow(start, [], f"unreadable row: {reason}")
                    continue
                self._line = self._reader.line_num
                if not fields or fields == [""]:
                    continue  # blank line
                yield RawRow(start, fields)

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
