"""The GAF reader on excerpts of real GAF 2.0, 2.1 and 2.2 files, plain and gzipped."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from protea_pipelines.errors import InputError, ParseError
from protea_pipelines.parsers import SkippedLine
from protea_pipelines.parsers.gaf import GafRecord, iter_gaf, read_gaf_version

FIXTURES = Path(__file__).parent.parent / "fixtures"
YEAST_198 = FIXTURES / "yeast_htp_198_head.gaf"  # GAF 2.1, first 40 rows of the HTP file
YEAST_203 = FIXTURES / "yeast_htp_203_head.gaf"  # GAF 2.2, first 40 rows of the HTP file
YEAST_NOT_203 = FIXTURES / "yeast_exp_not_203.gaf"  # GAF 2.2, all 38 NOT rows
WORM_2014 = FIXTURES / "worm_2014_head.gaf.gz"  # GAF 2.0, first 40 rows
WORM_2019 = FIXTURES / "worm_2019_head.gaf.gz"  # GAF 2.1, first 40 rows


def records(path: Path) -> list[GafRecord]:
    items = list(iter_gaf(path))
    assert all(isinstance(item, GafRecord) for item in items)
    return [item for item in items if isinstance(item, GafRecord)]


@pytest.mark.parametrize(
    ("path", "version", "rows", "last_line"),
    [
        (YEAST_198, "2.1", 40, 43),
        (YEAST_203, "2.2", 40, 43),
        (YEAST_NOT_203, "2.2", 38, 41),
        (WORM_2014, "2.0", 40, 51),
        (WORM_2019, "2.1", 40, 52),
    ],
)
def test_versions_and_row_counts(path: Path, version: str, rows: int, last_line: int) -> None:
    assert read_gaf_version(path) == version
    read = records(path)
    assert len(read) == rows
    assert read[-1].line_number == last_line


def test_gaf_21_record_fields() -> None:
    first = records(YEAST_198)[0]
    assert first == GafRecord(
        accession="A0A023PXP4",
        qualifier="",
        is_negated=False,
        go_id="GO:0006974",
        reference="PMID:12482937",
        evidence_code="HMP",
        aspect="P",
        taxon="taxon:559292",
        date=date(2006, 4, 6),
        assigned_by="SGD",
        line_number=4,
    )
    assert Counter(record.aspect for record in records(YEAST_198)) == {"C": 28, "P": 12}


def test_gaf_22_qualifiers_are_kept_as_written() -> None:
    read = records(YEAST_203)
    assert read[0].qualifier == "part_of"
    assert read[0].date == date(2008, 8, 25)
    assert Counter(record.qualifier for record in read) == {
        "located_in": 32,
        "involved_in": 3,
        "part_of": 3,
        "enables": 2,
    }
    assert not any(record.is_negated for record in read)


def test_not_qualifiers_mark_negation() -> None:
    read = records(YEAST_NOT_203)
    assert read[0].qualifier == "NOT|involved_in"
    assert all(record.is_negated for record in read)
    assert Counter(record.qualifier for record in read) == {
        "NOT|enables": 20,
        "NOT|involved_in": 12,
        "NOT|located_in": 4,
        "NOT|part_of": 2,
    }


def test_gaf_20_gzipped() -> None:
    read = records(WORM_2014)
    assert (read[0].accession, read[0].go_id, read[0].evidence_code) == (
        "A0A061ACE0",
        "GO:0005856",
        "IEA",
    )
    assert read[0].assigned_by == "InterPro"
    assert read[0].line_number == 12
    assert Counter(record.aspect for record in read) == {"F": 18, "P": 14, "C": 8}


def test_gaf_21_worm_has_one_contributes_to() -> None:
    read = records(WORM_2019)
    contributes = [record for record in read if record.qualifier == "contributes_to"]
    assert [(record.line_number, record.go_id) for record in contributes] == [(26, "GO:0030676")]
    assert not contributes[0].is_negated


def test_gzip_is_detected_by_magic_bytes_not_suffix(tmp_path: Path) -> None:
    disguised = tmp_path / "yeast.gaf"
    disguised.write_bytes(gzip.compress(YEAST_203.read_bytes()))
    plain = tmp_path / "worm.gaf.gz"
    plain.write_bytes(gzip.decompress(WORM_2014.read_bytes()))
    assert records(disguised) == records(YEAST_203)
    assert records(plain) == records(WORM_2014)
    assert read_gaf_version(disguised) == "2.2"
    assert read_gaf_version(plain) == "2.0"


def broken_file(tmp_path: Path) -> Path:
    """The yeast 2.2 header and first rows, with one damaged row of each malformed kind."""
    lines = YEAST_203.read_text().splitlines()
    header, rows = lines[:3], lines[3:9]

    def damaged(row: str, column: int, value: str) -> str:
        columns = row.split("\t")
        columns[column] = value
        return "\t".join(columns)

    body = [
        rows[0],  # line 4: good
        "\t".join(rows[1].split("\t")[:14]),  # line 5: 14 columns
        damaged(rows[2], 4, "GO:123"),  # line 6
        damaged(rows[3], 13, "2003-10-28"),  # line 7
        damaged(rows[4], 1, ""),  # line 8
        damaged(rows[5], 8, "X"),  # line 9
        damaged(rows[0], 13, "20230230"),  # line 10: no 30 February
        rows[1],  # line 11: good
    ]
    path = tmp_path / "broken.gaf"
    path.write_text("\n".join([*header, *body]) + "\n")
    return path


def test_malformed_lines_are_reported_with_line_number(tmp_path: Path) -> None:
    items = list(iter_gaf(broken_file(tmp_path)))
    skipped = [(item.line_number, item.message) for item in items if isinstance(item, SkippedLine)]
    assert skipped == [
        (5, "wrong column count: found 14, expected 15 to 17 tab-separated"),
        (6, "bad GO id: 'GO:123'; accepted: GO: and 7 digits"),
        (7, "bad date: '2003-10-28'; accepted: YYYYMMDD"),
        (8, "empty accession"),
        (9, "unknown aspect: 'X'; accepted: P, F, C"),
        (10, "bad date: '20230230'; accepted: YYYYMMDD"),
    ]
    kept = [item.line_number for item in items if isinstance(item, GafRecord)]
    assert kept == [4, 11]


def test_strict_mode_raises_with_file_line_and_reason(tmp_path: Path) -> None:
    path = broken_file(tmp_path)
    with pytest.raises(ParseError) as caught:
        list(iter_gaf(path, strict=True))
    assert caught.value.line_number == 5
    assert str(caught.value).startswith(
        f"{path}:5: wrong column count: found 14, expected 15 to 17 tab-separated (got 'UniProtKB"
    )


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def test_a_binary_file_names_the_first_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "picture.gaf"
    path.write_bytes(PNG)
    with pytest.raises(InputError) as caught:
        list(iter_gaf(path))
    assert str(caught.value) == (
        f"{path}: not a text file: line 1 is not UTF-8 (got b'\\x89PNG\\r\\n'); "
        "accepted: UTF-8 text, plain or gzipped"
    )
    # The reader decodes 8 KiB at a time; the line named is still the one holding the byte.
    late = tmp_path / "late.gaf.gz"
    late.write_bytes(gzip.compress(b"!header\n" * 5000 + b"bad \xff\n"))
    with pytest.raises(InputError, match=r"late\.gaf\.gz: not a text file: line 5001 is not"):
        list(iter_gaf(late))


def test_a_truncated_gzip_file_is_an_input_error(tmp_path: Path) -> None:
    lines = "".join(f"!comment line {n}\n" for n in range(20000)).encode()
    data = gzip.compress(lines)
    path = tmp_path / "cut.gaf.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as caught:
        list(iter_gaf(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: truncated gzip file: the data stops before its end marker")
    assert message.endswith("; accepted: a complete gzip file (download it again)")
    assert 0 < caught.value.value < 20000


def test_values_postgresql_cannot_store_are_malformed_lines(tmp_path: Path) -> None:
    """A NUL byte, or a value longer than its column, is refused here: PostgreSQL would fail
    the whole load on it, where SQLite stores it."""
    lines = YEAST_203.read_text().splitlines()
    header, row = lines[:3], lines[3]

    def damaged(column: int, value: str) -> str:
        columns = row.split("\t")
        columns[column] = value
        return "\t".join(columns)

    body = [
        damaged(1, "A" * 100),  # line 4: the longest accession kept
        damaged(1, "A" * 101),  # line 5
        damaged(9, "name\x00"),  # line 6: a NUL in a column the loader does not store
        damaged(6, "IDAIDAIDAID"),  # line 7: 11 characters of evidence code
        damaged(14, "S" * 101),  # line 8
    ]
    path = tmp_path / "limits.gaf"
    path.write_text("\n".join([*header, *body]) + "\n")
    items = list(iter_gaf(path))
    skipped = [(item.line_number, item.message) for item in items if isinstance(item, SkippedLine)]
    assert skipped == [
        (5, "accession too long: 101 characters; accepted: at most 100"),
        (6, "NUL byte: in column 10"),
        (7, "evidence code too long: 11 characters; accepted: at most 10"),
        (8, "assigned by too long: 101 characters; accepted: at most 100"),
    ]
    assert [item.line_number for item in items if isinstance(item, GafRecord)] == [4]
