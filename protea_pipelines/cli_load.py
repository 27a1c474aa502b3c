"""The `load` commands (ontology, annotations, sequences, embeddings) and `featurize`.

Each prints its load report as a small table; an InputError ends the command with exit code 1
and its message, without a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from protea_pipelines.errors import ProteaError
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import LoadReport

load_app = typer.Typer(help="Load input files into the store.", no_args_is_help=True)
console = Console()
error_console = Console(stderr=True)
T = TypeVar("T")

ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except ProteaError as error:
        # Escaped: a message quotes the user's value, and a value such as "[/x]" read as
        # markup would raise inside the handler and end in a traceback after all.
        error_console.print(f"[red]error:[/red] {escape(str(error))}", markup=True, highlight=False)
        raise typer.Exit(1) from None


def show_report(report: LoadReport, title: str) -> None:
    table = Table(title=title, show_header=True, min_width=60)
    table.add_column("rows")
    table.add_column("count", justify="right")
    table.add_row("read", str(report.rows_read))
    table.add_row("kept", str(report.rows_kept))
    for reason, count in report.skipped.items():
        table.add_row(f"skipped: {reason}", str(count))
    for key, value in report.notes.items():
        table.add_row(f"note: {key}", _note_text(value))
    console.print(table)


def _note_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items())
    if isinstance(value, list):
        return "\n".join(str(item) for item in value) or "-"
    return str(value)


@load_app.command("ontology")
def ontology_command(
    file: ExistingFile,
    name: Annotated[str, typer.Option("--name", help="Name of the ontology snapshot.")],
) -> None:
    """Load a GO release (OBO, plain or gzipped) as an ontology snapshot."""
    from protea_pipelines.loaders.ontology import load_ontology

    def action() -> None:
        with session_scope() as session:
            snapshot, report = load_ontology(session, file, name)
            show_report(report, f"ontology {snapshot.name} ({snapshot.data_version})")

    _run(action)


@load_app.command("annotations")
def annotations_command(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option("--source", help="Annotation source, e.g. goa.")],
    ontology: Annotated[str, typer.Option("--ontology", help="Ontology snapshot name.")],
    version: Annotated[int | None, typer.Option("--version", help="Release number.")] = None,
    cutoff_date: Annotated[
        str | None, typer.Option("--cutoff-date", help="Keep rows dated on/before YYYY-MM-DD.")
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Release label for provenance.")] = "",
) -> None:
    """Load GAF files as one annotation set: a release (--version) or a date cut."""
    from protea_pipelines.errors import InputError
    from protea_pipelines.loaders.annotations import load_annotation_set

    def action() -> None:
        cutoff = None
        if cutoff_date is not None:
            try:
                cutoff = date.fromisoformat(cutoff_date)
            except ValueError:
                raise InputError("--cutoff-date", cutoff_date, "not a date", "YYYY-MM-DD") from None
        with session_scope() as session:
            annotation_set, report = load_annotation_set(
                session, files, source, ontology, version, cutoff, label
            )
            title = f"annotations {annotation_set.source} {annotation_set.source_version}"
            show_report(report, title)

    _run(action)


@load_app.command("sequences")
def sequences_command(fasta: ExistingFile) -> None:
    """Load protein sequences from a FASTA file."""
    from protea_pipelines.loaders.sequences import load_sequences

    def action() -> None:
        with session_scope() as session:
            show_report(load_sequences(session, fasta), f"sequences from {fasta.name}")

    _run(action)


@load_app.command("embeddings")
def embeddings_command(
    file: ExistingFile,
    name: Annotated[str, typer.Option("--name", help="Name of the embedding config.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="h5, npy or parquet (default: from suffix).")
    ] = None,
    accessions: Annotated[
        Path | None,
        typer.Option("--accessions", exists=True, dir_okay=False, help="Accession list (npy)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="Model that made the vectors.")] = "",
) -> None:
    """Load per-protein embeddings from an H5, .npy (with --accessions) or parquet file."""
    from protea_pipelines.loaders.embeddings import load_embedding_file

    def action() -> None:
        with session_scope() as session:
            config, report = load_embedding_file(session, file, name, fmt, accessions, model)
            show_report(report, f"embeddings {config.name} (dim {config.dim})")

    _run(action)


def featurize_command(
    name: Annotated[str, typer.Option("--name", help="Name of the embedding config to make.")],
    dim: Annotated[int, typer.Option("--dim", help="Number of hash buckets.")] = 320,
    kmer: Annotated[int, typer.Option("--kmer", help="k-mer length.")] = 3,
) -> None:
    """Embed every stored protein sequence with hashed k-mer counts."""
    from protea_pipelines.featurize import featurize_sequences

    def action() -> None:
        with session_scope() as session:
            config, report = featurize_sequences(session, name, dim, kmer)
            show_report(report, f"embeddings {config.name}: {config.model}")

    _run(action)
