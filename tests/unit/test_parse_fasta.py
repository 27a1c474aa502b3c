"""The FASTA reader on five records of the UniProt yeast reference proteome, and bad records."""

from __future__ import annotations

import gzip
from pathlib import Path

from protea_pipelines.parsers import SkippedLine
from protea_pipelines.parsers.fasta import FastaRecord, accession_of_header, iter_fasta

FIXTURES = Path(__file__).parent.parent / "fixtures"
YEAST = FIXTURES / "yeast_5.fasta"


def test_uniprot_records() -> None:
    items = list(iter_fasta(YEAST))
    assert all(isinstance(item, FastaRecord) for item in items)
    read = [item for item in items if isinstance(item, FastaRecord)]
    assert [(r.accession, len(r.sequence), r.line_number) for r in read] == [
        ("A0A023PXP4", 132, 1),
        ("A0A023PZB3", 126, 5),
        ("A5Z2X5", 72, 9),
        ("D6W196", 494, 12),
        ("I2HB70", 103, 22),
    ]
    assert read[0].sequence.startswith("MLIGAPSNMRLRGALELLWR")
    assert read[0].description.startswith("Putative uncharacterized protein YLR235C OS=")


def test_header_forms() -> None:
    assert accession_of_header("sp|P12345|NAME_HUMAN Some protein") == ("P12345", "Some protein")
    assert accession_of_header("tr|A0A0B4|A0A0B4_YEAST") == ("A0A0B4", "")
    assert accession_of_header("WBGene0001 worm protein") == ("WBGene0001", "worm protein")
    assert accession_of_header("sp|P1") == ("sp|P1", "")


def test_bad_records_are_skipped_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.fasta.gz"
    text = (
        ">sp|P00001|A_YEAST first\nmkv*\nLLA\n"  # line 1: lower case is read upper case
        ">sp|P00002|B_YEAST empty\n"  # line 4
        ">sp|P00003|C_YEAST digits\nMKV1-A\n"  # line 5
        ">sp|P00001|A_YEAST again\nMKV\n"  # line 7
        ">tr|Q00004|D_YEAST fine\nM K V\n"  # line 9
    )
    path.write_bytes(gzip.compress(text.encode()))
    items = list(iter_fasta(path))
    assert items == [
        FastaRecord("P00001", "first", "MKV*LLA", 1),
        SkippedLine(4, "empty sequence", "P00002"),
        SkippedLine(
            5,
            "characters outside the amino-acid alphabet",
            "P00003 has '-1'; accepted: A-Z and *",
        ),
        SkippedLine(7, "duplicate accession", "P00001 (first at line 1)"),
        FastaRecord("Q00004", "fine", "MKV", 9),
    ]
