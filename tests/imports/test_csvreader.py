"""Reading uploaded bytes: encodings, delimiters, records and what is wrong with them."""

from __future__ import annotations

import codecs
import io
import random

import pytest

from crm_api.imports.csvreader import (
    Layout,
    RecordReader,
    UnreadableFile,
    detect_encoding,
    inspect,
    text_encoding,
)


class TestDetectEncoding:
    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (b"code,name\nA1,Plain ASCII\n", "utf-8"),
            ("code,name\nA1,Müller\n".encode(), "utf-8"),
            (codecs.BOM_UTF8 + b"code,name\n", "utf-8-sig"),
            ("code,name\n".encode("utf-16"), "utf-16"),
            ("姓名,电话\n张伟,13800138000\n".encode("gbk"), "gb18030"),
            ("编号,姓名,电话\nC001,张伟,13800138000\n".encode("gbk"), "gb18030"),
            ("code,name\nA1,Müller Bäckerei\n".encode("cp1252"), "cp1252"),
        ],
    )
    def test_recognises_the_encoding(self, content: bytes, expected: str) -> None:
        assert detect_encoding(content) == expected

    def test_junk_after_utf8_lines_keeps_utf8(self) -> None:
        junk = random.Random(7).randbytes(1 << 20)

        assert detect_encoding("code,name\nA1,Müller\n".encode() + junk) == "utf-8"
        assert detect_encoding(b"code,name\nA1,Plain\n" + junk) == "utf-8"

    def test_a_cut_multibyte_character_at_the_end_of_the_sample_is_fine(self) -> None:
        sample = "code,name\nA1,张伟".encode()[:-1]

        assert detect_encoding(sample) == "utf-8"


class TestInspect:
    def test_semicolons_are_found_and_the_header_stripped(self) -> None:
        layout = inspect(b"code ; name\nA1;Alpha\n", encoding=None)

        assert layout == Layout("utf-8", ";", ["code", "name"])

    def test_a_bom_never_reaches_the_first_header(self) -> None:
        layout = inspect(codecs.BOM_UTF8 + b"code,name\nA1,x\n", encoding="utf-8")

        assert layout.header == ["code", "name"]
        assert layout.encoding == "utf-8-sig"

    @pytest.mark.parametrize("content", [b"", b"\n\n  \n", b",,,\nA,B\n"])
    def test_no_header_is_unreadable(self, content: bytes) -> None:
        with pytest.raises(UnreadableFile):
            inspect(content, encoding=None)

    def test_a_header_in_the_wrong_encoding_is_unreadable(self) -> None:
        with pytest.raises(UnreadableFile, match="encoding"):
            inspect("姓名,电话\n".encode("gbk"), encoding="utf-8")

    @pytest.mark.parametrize("name", ["nope", "base64", "rot13"])
    def test_only_text_encodings_are_accepted(self, name: str) -> None:
        with pytest.raises(LookupError):
            text_encoding(name)


def _records(content: bytes, start_row: int = 2) -> list[tuple[int, object, object]]:
    layout = inspect(content, encoding=None)
    reader = RecordReader(io.BytesIO(content), layout)
    return [
        (r.row_number, r.fields, r.error_code)
        for r in reader.records(start_row=start_row)
    ]


class TestRecords:
    def test_quoted_commas_quotes_and_line_breaks_stay_in_their_field(self) -> None:
        content = b'code,name\nA1,"Smith, ""Jr."" &\nSons"\nA2,Plain\n'

        assert _records(content) == [
            (2, ["A1", 'Smith, "Jr." &\nSons'], None),
            (3, ["A2", "Plain"], None),
        ]

    def test_blank_lines_are_skipped_but_keep_their_row_number(self) -> None:
        assert _records(b"code,name\r\n\r\nA1,x\r\n,\r\nA2,y\r\n") == [
            (3, ["A1", "x"], None),
            (5, ["A2", "y"], None),
        ]

    def test_too_many_fields_nul_and_bad_bytes_fail_their_row_only(self) -> None:
        content = b"code,name\nA1,x,extra\nA2,x\x00y\nA3,\xff\xfe\nA4,ok\n"

        assert _records(content) == [
            (2, None, "too_many_fields"),
            (3, None, "nul_character"),
            (4, None, "invalid_bytes"),
            (5, ["A4", "ok"], None),
        ]

    def test_a_trailing_delimiter_is_not_an_extra_field(self) -> None:
        assert _records(b"code,name,city\nS1,Semi One,a,\nS2,Two,b,,\n") == [
            (2, ["S1", "Semi One", "a"], None),
            (3, ["S2", "Two", "b"], None),
        ]

    def test_missing_trailing_fields_are_empty(self) -> None:
        assert _records(b"code,name,city\nA1,x\n") == [(2, ["A1", "x", ""], None)]

    def test_reading_resumes_at_a_row(self) -> None:
        content = b"code,name\nA1,x\nA2,y\nA3,z\n"

        assert [row for row, _, _ in _records(content, start_row=3)] == [3, 4]
