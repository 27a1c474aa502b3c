"""The `protea-pipelines` command: loaders, the demo, exports and the job timeline."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from protea_pipelines import settings
from protea_pipelines.errors import ProteaError
from protea_pipelines.store.db import get_engine, session_scope

app = typer.Typer(help="Export GO-term re-ranking datasets from protein embeddings.")
jobs_app = typer.Typer(help="Parent jobs and their timelines.")
db_app = typer.Typer(help="The store's schema.")
app.add_typer(jobs_app, name="jobs")
app.add_typer(db_app, name="db")
console = Console(soft_wrap=True)


def _register_loaders() -> None:
    from protea_pipelines.cli_load import featurize_command, load_app

    app.add_typer(load_app, name="load", help="Load ontologies, annotations, sequences, vectors.")
    app.command("featurize", help="Embed stored sequences with the hashed k-mer featurizer.")(
        featurize_command
    )


_register_loaders()


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Library chatter (which faiss build loaded, each migration step) is not for the person.
    for noisy in ("faiss.loader", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


error_console = Console(stderr=True, soft_wrap=True)


def fail(error: Exception | str) -> NoReturn:
    # Escaped: a value such as "[/x]" in the message is text, not Rich markup.
    error_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the store's schema to the newest migration."""
    get_engine()
    console.print(f"schema up to date at {settings.database_url()}", highlight=False)


@app.command()
def demo(
    load_only: bool = typer.Option(False, help="Load the bundled data, do not export."),
) -> None:
    """Load the bundled yeast data, export the demo dataset and print a summary."""
    from protea_pipelines.demo import load_demo_data
    from protea_pipelines.demo_run import run_demo_export

    try:
        for line in load_demo_data():
            console.print(f"loaded {line}", highlight=False)
        if load_only:
            return
        outcome = run_demo_export()
    except ProteaError as error:
        fail(error)
        return
    console.print(outcome, highlight=False)


def read_payload_file(path: Path) -> dict[str, Any]:
    """The payload mapping of a YAML file, or a one-line error naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problem = str(error).splitlines()[0]
        fail(f"{path}: not a readable YAML file ({problem})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        fail(f"{path}: the payload must be a YAML mapping of field: value (got a {kind})")
    return data


@app.command("export")
def export(payload_file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Run the export described by a payload YAML file and wait for it to end."""
    from protea_pipelines.export_launch import launch_export

    payload = read_payload_file(payload_file)
    try:
        outcome = launch_export(payload)
    except ProteaError as error:
        fail(error)
        return
    for label, value in (
        ("parent job", outcome.job_id),
        ("status", outcome.status),
        ("dataset", outcome.dataset_path or "-"),
        ("error", outcome.error),
    ):
        if value:
            console.print(f"{label:<12}{value}", highlight=False, markup=False)
    if outcome.status != "succeeded":
        raise typer.Exit(code=1)


@app.command()
def backfill(
    first: str = typer.Option(
        ..., "--from", help="First snapshot version key, e.g. goa_yeast.20091231"
    ),
    last: str = typer.Option(..., "--to", help="Last snapshot version key (inclusive)."),
) -> None:
    """Compute snapshot_knn for every snapshot version from --from to --to, one run each."""
    from protea_pipelines.backfill import backfill_knn

    try:
        runs = backfill_knn(first, last)
    except ProteaError as error:
        fail(error)
        return
    for run in runs:
        state = "ok" if run.success else "FAILED"
        console.print(f"{run.partition}  run {run.run_id}  {state}", highlight=False)
    if not all(run.success for run in runs):
        raise typer.Exit(code=1)


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", help="Address the web UI listens on."),
    port: int = typer.Option(3000, help="Port of the web UI."),
) -> None:
    """Serve the code location with `dagster dev` (web UI, daemon, schedules and sensors)."""
    import os
    import shutil

    from protea_pipelines.dagster_home import REPO_ROOT, ensure_dagster_home

    os.environ["PROTEA_HOME"] = str(settings.protea_home())
    home = ensure_dagster_home()
    dagster = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    console.print(f"DAGSTER_HOME={home}; UI at http://{host}:{port}", highlight=False)
    workspace = str(REPO_ROOT / "workspace.yaml")
    os.execv(dagster, [dagster, "dev", "-w", workspace, "-h", host, "-p", str(port)])


@app.command()
def api(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (POST /v1/datasets, GET /v1/jobs/{id} ...) with uvicorn."""
    import dagster as dg
    import uvicorn

    from protea_pipelines.api.app import create_app
    from protea_pipelines.dagster_home import ensure_dagster_home

    ensure_dagster_home()
    get_engine()
    # Create the instance's storage now: concurrent first launches would race to create it.
    with dg.DagsterInstance.get() as instance:
        instance.get_runs(limit=1)
    uvicorn.run(create_app(), host=host, port=port, log_level="info")


@jobs_app.command("show")
def jobs_show(job_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A parent job: status, progress, meta and error."""
    from protea_pipelines.jobs.parent_job import job_as_dict
    from protea_pipelines.store.models import ParentJob

    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        if job is None:
            fail(ProteaError(f"no parent job {job_id}"))
            return
        data = job_as_dict(job)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return
    table = Table(show_header=False)
    for key, value in data.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    console.print(table)


@jobs_app.command("reap")
def jobs_reap() -> None:
    """End parent jobs whose Dagster run has ended, vanished or lost its process."""
    import dagster as dg

    from protea_pipelines.assets.orphans import reap_with_instance
    from protea_pipelines.dagster_home import ensure_dagster_home

    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        reaped = reap_with_instance(instance)
    for item in reaped:
        console.print(f"{item.job_id} -> {item.status}: {item.reason}", highlight=False)
    console.print(f"{len(reaped)} orphaned parent job(s) ended", highlight=False)


@jobs_app.command("events")
def jobs_events(
    job_id: str,
    as_json: bool = typer.Option(False, "--json"),
    offset: int = typer.Option(0, min=0),
    limit: int = typer.Option(1000, min=1, max=10000),
) -> None:
    """The timeline of a parent job, oldest first."""
    from protea_pipelines.jobs.parent_job import event_as_dict, list_events
    from protea_pipelines.store.models import ParentJob

    with session_scope() as session:
        if session.get(ParentJob, job_id) is None:
            fail(ProteaError(f"no parent job {job_id}"))
            return
        events = [event_as_dict(e) for e in list_events(session, job_id, offset, limit)]
    if as_json:
        sys.stdout.write(json.dumps(events, indent=2, sort_keys=True) + "\n")
        return
    # Plain lines, not a table: a narrow or piped terminal would cut the event names.
    for event in events:
        line = f"{event['ts']}  {event['level']:<7}  {event['name']}  {event['message']}"
        console.print(line, highlight=False, markup=False)


if __name__ == "__main__":
    app()
