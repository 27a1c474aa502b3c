"""Load protein sequences from FASTA into protein_sequences (new accessions only)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.loaders import bulk_insert, require_file, track
from protea_pipelines.loaders.report import LoadTally, nothing_usable
from protea_pipelines.parsers import SkippedLine
from protea_pipelines.parsers.fasta import FastaRecord, iter_fasta
from protea_pipelines.store.models import LoadReport, ProteinSequence

LOOKUP_CHUNK = 500
FASTA_ACCEPTED = "FASTA: a '>' header line with the accession, then the sequence lines"


def load_sequences(session: Session, fasta_path: Path) -> LoadReport:
    """Insert the records whose accession is not stored yet.

    A stored accession is left as it is: the same sequence again counts as "already stored",
    another sequence as "sequence differs from stored" (listed in the notes). A file without
    one usable record (empty, not FASTA, every record bad) is an InputError and stores nothing.
    """
    require_file(fasta_path)
    tally = LoadTally()
    records: list[FastaRecord] = []
    for item in track(iter_fasta(fasta_path), f"records of {fasta_path.name}"):
        tally.rows_read += 1
        if isinstance(item, SkippedLine):
            tally.skip(item.reason)
            tally.list_note("skipped records", f"line {item.line_number}: {item.message}")
        else:
            records.append(item)
    if not records:
        # Nothing usable means a wrong or broken file; a report of 0 kept would hide that.
        # (A file whose records are all stored already is fine: it is a repeated load.)
        notes = tally.notes.get("skipped records") or [None]
        raise nothing_usable(
            str(fasta_path), "FASTA record", "records", tally, notes[0], FASTA_ACCEPTED
        )

    stored = _stored_sequences(session, [record.accession for record in records])
    rows = []
    for record in records:
        previous = stored.get(record.accession)
        if previous is None:
            rows.append(
                {
                    "accession": record.accession,
                    "sequence": record.sequence,
                    "description": record.description,
                    "source_file": fasta_path.name,
                }
            )
        elif previous == record.sequence:
            tally.skip("already stored")
        else:
            tally.skip("sequence differs from stored")
            tally.list_note("sequences differing from stored", record.accession)
    bulk_insert(session, ProteinSequence, rows)
    tally.rows_kept = len(rows)
    return tally.store(session, "sequences", "protein_sequences", fasta_path.name)


def _stored_sequences(session: Session, accessions: list[str]) -> dict[str, str]:
    stored: dict[str, str] = {}
    for start in range(0, len(accessions), LOOKUP_CHUNK):
        chunk = accessions[start : start + LOOKUP_CHUNK]
        query = select(ProteinSequence.accession, ProteinSequence.sequence).where(
            ProteinSequence.accession.in_(chunk)
        )
        stored.update({accession: sequence for accession, sequence in session.execute(query)})
    return stored
