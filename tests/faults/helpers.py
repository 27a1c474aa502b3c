"""What the fault tests share: running the real `protea-pipelines export` in a subprocess,
watching its parent job while it runs, and checking what it left on disk and in the store.

The export runs in its own process group so that a test can interrupt it (or kill it) the way
a person or a supervisor would, and so that teardown can end whatever is left of it by pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import yaml
from sqlalchemy import select

from protea_pipelines import settings
from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.demo import demo_payload
from protea_pipelines.jobs.parent_job import event_as_dict, job_as_dict, list_events
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import Dataset, ParentJob

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("protea-pipelines")
DATASET_FILES = {"eval.parquet", "manifest.json", "train.parquet"}
PAIRS = {
    "train_20091231": "v20041231-v20091231",
    "train_20141231": "v20091231-v20141231",
    "train_20200616": "v20141231-v20200616",
    "eval_20210408": "v20200616-v20210408",
}
EVAL_PAIR = PAIRS["eval_20210408"]
RUN_TIMEOUT_S = 180.0
T = TypeVar("T")


def payload(output_name: str, **fields: Any) -> dict[str, Any]:
    """The demo payload (4 children) under another output name, with fields replaced."""
    data = demo_payload(output_name)
    data.update(fields)
    return data


def write_payload(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / f"{data['output_name']}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def fanout_env(**extra: str) -> dict[str, str]:
    """This process's environment (PROTEA_HOME, DAGSTER_HOME, the store URL from the fixtures)
    with the fan-out gate on."""
    env = dict(os.environ)
    env["PROTEA_EXPORT_MINIJOBS"] = "1"
    env.update(extra)
    return env


class Export:
    """A `protea-pipelines export` subprocess with its output in a log file."""

    def __init__(
        self,
        payload_file: Path,
        log_file: Path,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.log_file = log_file
        self._log = log_file.open("wb")
        command = argv or [str(CLI), "export", str(payload_file)]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env or fanout_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"export still running after {timeout}s:\n{self.tail()}") from None

    def tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_file.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def group_left(self, timeout: float = 10.0) -> list[int]:
        """Pids still in the export's process group (its step processes) after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            left = processes_in_group(self.process.pid)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def stop(self) -> None:
        """End what is left of the export: its own process, then its process group."""
        if self.running():
            self.process.kill()
            self.process.wait(timeout=30)
        # Step processes of a killed launcher live on in its process group (start_new_session
        # made the group id the launcher's pid); end them too, by that group only.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def processes_in_group(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is `pgid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


@contextmanager
def export_process(*args: Any, **kwargs: Any) -> Iterator[Export]:
    export = Export(*args, **kwargs)
    try:
        yield export
    finally:
        export.stop()


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 120.0,
    interval: float = 0.05,
    export: Export | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail when the export ended first."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if export is not None and not export.running():
            found = probe()
            if found:
                return found
            raise AssertionError(f"the export ended before {what}:\n{export.tail()}")
        if time.monotonic() > deadline:
            tail = export.tail() if export else ""
            raise AssertionError(f"no {what} within {timeout}s\n{tail}")
        time.sleep(interval)


def parent_jobs() -> list[dict[str, Any]]:
    with session_scope() as session:
        return [job_as_dict(job) for job in session.scalars(select(ParentJob))]


def only_parent() -> dict[str, Any]:
    jobs = parent_jobs()
    assert len(jobs) == 1, jobs
    return jobs[0]


def events_of(job_id: str) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [event_as_dict(event) for event in list_events(session, job_id, limit=100_000)]


def names_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["name"] for event in events]


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in events if event["name"] == name]


def the_event(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = named(events, name)
    assert len(found) == 1, f"{len(found)} {name} events in {names_of(events)}"
    return found[0]


def of_pair(events: list[dict[str, Any]], pair: str) -> list[str]:
    """Names of a child's events, in order."""
    return [e["name"] for e in events if e["fields"].get("snapshot_pair") == pair]


def registry_row(name: str) -> dict[str, Any] | None:
    with session_scope() as session:
        row = session.scalar(select(Dataset).where(Dataset.name == name))
        if row is None:
            return None
        return {
            "path": row.path,
            "parent_job_id": row.parent_job_id,
            "train_rows": row.train_rows,
            "eval_rows": row.eval_rows,
            "manifest_sha256": row.manifest_sha256,
        }


def staging_folders() -> list[Path]:
    folder = settings.datasets_dir()
    return sorted(folder.glob(".staging-*")) if folder.exists() else []


def assert_no_dataset(name: str) -> None:
    """Nothing of the dataset: no folder, no staging folder, no registry row."""
    assert not (settings.datasets_dir() / name).exists(), name
    assert staging_folders() == []
    assert registry_row(name) is None


def assert_complete_dataset(name: str, job_id: str) -> dict[str, Any]:
    """The three files, a registry row of this parent job, no staging left; the manifest."""
    folder = settings.datasets_dir() / name
    assert {p.name for p in folder.iterdir()} == DATASET_FILES
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    assert manifest["name"] == name
    for file_name in ("train.parquet", "eval.parquet"):
        assert manifest["files"][file_name]["bytes"] == (folder / file_name).stat().st_size
    assert staging_folders() == []
    row = registry_row(name)
    assert row is not None
    assert row["path"] == str(folder)
    assert row["parent_job_id"] == job_id
    assert row["train_rows"] == manifest["row_counts"]["train"]
    assert row["eval_rows"] == manifest["row_counts"]["eval"]
    return manifest


@contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """The instance the export subprocess used (DAGSTER_HOME = PROTEA_HOME/dagster)."""
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        yield instance


def step_events(
    instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType
) -> list[dg.EventLogEntry]:
    return list(instance.all_logs(run_id, of_type=event_type))


def started_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    entries = step_events(instance, run_id, dg.DagsterEventType.STEP_START)
    return [entry.step_key or "" for entry in entries]


def step_pid(instance: dg.DagsterInstance, run_id: str, step_key: str) -> int | None:
    """The pid of the process running a step, from its STEP_START event."""
    for entry in step_events(instance, run_id, dg.DagsterEventType.STEP_START):
        if entry.step_key == step_key and entry.dagster_event is not None:
            return entry.dagster_event.pid
    return None


def run_status(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    assert run is not None, run_id
    return run.status.value


REEXECUTE = """
import sys
import dagster as dg
from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.export_launch import export_job_definition

ensure_dagster_home()
with dg.DagsterInstance.get() as instance:
    result = dg.execute_job(
        dg.reconstructable(export_job_definition),
        instance=instance,
        reexecution_options=dg.ReexecutionOptions.from_failure(sys.argv[1], instance),
    )
    print("REEXECUTION", result.run_id, result.success)
"""


def reexecute_from_failure(run_id: str, log_file: Path) -> tuple[str, bool]:
    """Re-execute a failed run from its failure in a fresh process (a fresh forkserver, with
    this test's environment); returns (new run id, success)."""
    with log_file.open("wb") as log:
        done = subprocess.run(
            [sys.executable, "-c", REEXECUTE, run_id],
            cwd=REPO_ROOT,
            env=fanout_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    text = log_file.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.startswith("REEXECUTION ")]
    assert done.returncode == 0 and lines, text[-4000:]
    _, new_run_id, success = lines[-1].split()
    return new_run_id, success == "True"
