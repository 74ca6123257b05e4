"""Reading an uploaded CSV: encoding, delimiter, header, then one record at a time.

Nothing here holds more than one record (plus the decoder's read-ahead) in memory.
Every problem with a record (bytes that are not text in the file's encoding, a NUL, a
field beyond the CSV module's limit, more fields than the header) is reported with the
record's number and reading goes on with the next one.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from charset_normalizer import from_bytes

# Tried in this order when a file is neither marked by a BOM nor valid UTF-8: the
# legacy encodings spreadsheets still write in our markets. Everything else must be
# named in the upload's ``encoding`` field.
LEGACY_ENCODINGS = ("gb18030", "cp1252", "latin_1")
DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024
REPLACEMENT = "\ufffd"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UnreadableFile(ValueError):
    """The file cannot be read as CSV at all (no header, unknown encoding ...)."""


@dataclass(frozen=True)
class Layout:
    """How to read a file: its encoding and delimiter, and the header it starts with."""

    encoding: str
    delimiter: str
    header: list[str]


@dataclass(frozen=True)
class Record:
    """One record after the header: its fields, or why it could not be read.

    ``row_number`` counts records the way a spreadsheet shows them: the header is
    row 1, a field with line breaks in it stays in one row.
    """

    row_number: int
    fields: list[str] | None
    error_code: str | None = None
    error: str | None = None


def text_encoding(name: str) -> str:
    """The codec's canonical name; a LookupError unless it decodes bytes to text."""
    info = codecs.lookup(name)
    # Raises LookupError for codecs that are not bytes-to-text (base64, rot13).
    with contextlib.suppress(UnicodeDecodeError):
        b"a".decode(info.name)
    return info.name


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file from its first bytes.

    A BOM decides; else UTF-8 if the sample is valid UTF-8 (or its valid part shows
    multi-byte characters, so only later bytes are broken, e.g. junk after the last
    line); else the legacy encoding charset-normalizer finds most plausible; else
    UTF-8, so that undecodable bytes become row errors rather than wrong text.
    """
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError as error:
        valid = sample[: error.start]
    complete_lines = valid[: valid.rfind(b"\n") + 1]
    if not complete_lines.isascii():
        return "utf-8"
    best = from_bytes(sample, cp_isolation=list(LEGACY_ENCODINGS)).best()
    return best.encoding if best is not None else "utf-8"


def _reader(
    lines: Iterator[str] | io.TextIOBase, delimiter: str
) -> Iterator[list[str]]:
    # Excel's quoting rules with the file's delimiter; not strict, so a stray quote
    # inside a field is kept as text rather than failing the row.
    return csv.reader(lines, "excel", delimiter=delimiter, strict=False)


def _sniff_delimiter(text: str) -> str:
    # Whole lines only, so a cut-off quote cannot mislead the sniffer.
    cut = text.rfind("\n")
    sample = text[: cut + 1] if cut > 0 else text
    first_line = sample.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    # A header without the sniffed delimiter means the sniffer guessed.
    return delimiter if delimiter in first_line else ","


def inspect(
    sample: bytes, *, encoding: str | None, delimiter: str | None = None
) -> Layout:
    """Encoding, delimiter and header from the first bytes of a file."""
    if not sample.strip():
        raise UnreadableFile("The file is empty.")
    if encoding is None:
        encoding = detect_encoding(sample)
    elif encoding == "utf-8" and sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(sample[: SNIFF_CHARS * 4], final=False)[:SNIFF_CHARS]
    delimiter = delimiter or _sniff_delimiter(text)
    try:
        header = next(_reader(io.StringIO(text), delimiter))
    except (StopIteration, csv.Error) as error:
        raise UnreadableFile(f"The first row cannot be read as CSV: {error}") from None
    header = [name.strip() for name in header]
    if not any(header):
        raise UnreadableFile("The first row (the header) is empty.")
    if any(REPLACEMENT in name or "\x00" in name for name in header):
        raise UnreadableFile(
            f"The header holds bytes that are not valid {encoding}; name the file's "
            "encoding in the 'encoding' field."
        )
    return Layout(encoding=encoding, delimiter=delimiter, header=header)


class RecordReader:
    """The records of a file on disk, from any row on; ``position`` is bytes read."""

    def __init__(self, raw: BinaryIO, layout: Layout) -> None:
        self._raw = raw
        self._layout = layout
        self._text = io.TextIOWrapper(
            raw, encoding=layout.encoding, errors="replace", newline=""
        )
        self._reader = _reader(self._text, layout.delimiter)

    @property
    def position(self) -> int:
        """Bytes consumed so far (ahead of the last record by the decoder's buffer)."""
        return self._raw.tell()

    def records(self, *, start_row: int = 2) -> Iterator[Record]:
        """Every non-blank record from ``start_row`` on (earlier ones are skipped)."""
        width = len(self._layout.header)
        row_number = 0
        while True:
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as error:
                row_number += 1
                if row_number >= start_row:
                    yield Record(row_number, None, "unreadable_row", str(error))
                continue
            row_number += 1
            if row_number < start_row or row_number == 1:
                continue
            if not any(field.strip() for field in fields):
                continue
            yield self._checked(row_number, fields, width)

    def _checked(self, row_number: int, fields: list[str], width: int) -> Record:
        # Spreadsheets often end a row with its delimiter: empty extra cells hold
        # nothing, so they are dropped rather than failing the row.
        while len(fields) > width and fields[-1] == "":
            fields = fields[:-1]
        if len(fields) > width:
            return Record(
                row_number,
                None,
                "too_many_fields",
                f"The row has {len(fields)} fields; the header has {width}.",
            )
        for field in fields:
            if REPLACEMENT in field:
                return Record(
                    row_number,
                    None,
                    "invalid_bytes",
                    f"The row holds bytes that are not valid {self._layout.encoding}.",
                )
            if "\x00" in field:
                return Record(
                    row_number, None, "nul_character", "The row holds a NUL character."
                )
        if len(fields) < width:
            # Spreadsheets drop trailing empty cells; missing ones are empty.
            fields = fields + [""] * (width - len(fields))
        return Record(row_number, fields)
