"""Tests of the HTTP API over real HTTP, and the helpers they share.

Each server is `protea-pipelines api` run as a subprocess on a free loopback port, with
PROTEA_HOME (and DAGSTER_HOME under it) pointing at a private copy of the loaded demo home.
The tests read the store of that home directly with sqlite3, never through the server, so what
they check about job rows does not depend on the code under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TOKEN = "api-test-token"
SOURCE = "goa_yeast"
EMBEDDING = "kmer3-320"
ONTOLOGY = "go-2019-01-27"
# Not sorted on purpose: the pivot is the set of max(train_versions), not of the last one.
TRAIN = [20200616, 20091231, 20141231]
TEST = [20210408]
START_TIMEOUT_S = 90.0
WORKER_MODULE = "protea_pipelines.run_worker"


def request_body(output_name: str, **changes: Any) -> dict[str, Any]:
    """A valid POST /v1/datasets body on the demo data (no annotation_set_id)."""
    body: dict[str, Any] = {
        "output_name": output_name,
        "embedding_config": EMBEDDING,
        "annotation_source": SOURCE,
        "ontology_snapshot": ONTOLOGY,
        "train_versions": list(TRAIN),
        "test_versions": list(TEST),
        "k": 5,
        "search_backend": "numpy",
    }
    body.update(changes)
    return body


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli_command() -> list[str]:
    script = Path(sys.executable).with_name("protea-pipelines")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "protea_pipelines.cli"]


def _read_proc(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _environ_of(pid: int) -> dict[str, str]:
    entries = _read_proc(pid, "environ").split(b"\0")
    pairs = (entry.decode(errors="replace").partition("=") for entry in entries if entry)
    return {key: value for key, _, value in pairs}


def _is_zombie(pid: int) -> bool:
    stat = _read_proc(pid, "stat").decode(errors="replace")
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def processes_of_home(home: Path) -> list[int]:
    """Live processes (not this one) whose environment has PROTEA_HOME=home."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _environ_of(pid).get("PROTEA_HOME") == str(home) and not _is_zombie(pid):
            found.append(pid)
    return found


def is_run_worker(pid: int) -> bool:
    return WORKER_MODULE.encode() in _read_proc(pid, "cmdline")


def process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, Z ...), None when it no longer exists."""
    stat = _read_proc(pid, "stat").decode(errors="replace")
    if not stat:
        return None
    return stat.rpartition(")")[2].split()[0]


def kill_group_or_process(pid: int) -> None:
    """SIGKILL a worker and what it started: its own process group when it leads one."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class ApiServer:
    """A running `protea-pipelines api` on 127.0.0.1, and the home it serves."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.home / "protea.db"

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0)
        self.clients.append(client)
        return client

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # The store, read with sqlite3 so that nothing of the code under test is involved.

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def parent_jobs(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT id, status, payload, meta, dagster_run_id FROM parent_jobs ORDER BY created_at"
        )
        return [
            {
                "id": row[0],
                "status": row[1],
                "payload": json.loads(row[2]) if row[2] else None,
                "meta": json.loads(row[3]) if row[3] else {},
                "dagster_run_id": row[4],
            }
            for row in rows
        ]

    def event_rows(self, job_id: str) -> list[tuple[int, str, str]]:
        """(id, name, message) of a job's events, by id."""
        return [
            (int(row[0]), row[1], row[2])
            for row in self.query(
                "SELECT id, name, message FROM job_events WHERE job_id = ? ORDER BY id", job_id
            )
        ]

    def annotation_set_id(self, source: str, version: int) -> int:
        rows = self.query(
            "SELECT id FROM annotation_sets WHERE source = ? AND source_version = ?",
            source,
            str(version),
        )
        assert len(rows) == 1, (source, version, rows)
        return int(rows[0][0])

    def worker_pids(self) -> list[int]:
        """Run workers of this home that are alive: found by their environment, and by the
        launcher_pid the launch recorded on each parent job."""
        pids = set(processes_of_home(self.home))
        if self.db_path.exists():
            try:
                for job in self.parent_jobs():
                    pid = job["meta"].get("launcher_pid")
                    if isinstance(pid, int) and is_run_worker(pid) and not _is_zombie(pid):
                        pids.add(pid)
            except sqlite3.Error:
                pass
        pids.discard(self.process.pid)
        return sorted(pid for pid in pids if is_run_worker(pid))

    def stop(self) -> None:
        """Kill the run workers this server started, then the server's process group, then
        anything else still running on this home."""
        for client in self.clients:
            client.close()
        for pid in self.worker_pids():
            kill_group_or_process(pid)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = processes_of_home(self.home)
            if not left:
                break
            for pid in left:
                kill_group_or_process(pid)
            time.sleep(0.2)


def start_server(home: Path, log_dir: Path, env_changes: dict[str, str | None]) -> ApiServer:
    """Start `protea-pipelines api` on a free loopback port; return once /openapi.json answers.

    env_changes: variables to set (a value) or remove (None) on top of a clean environment.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PROTEA_") and key != "DAGSTER_HOME"
    }
    env.update(PROTEA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), PYTHONUNBUFFERED="1")
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    problem = ""
    for attempt in range(3):
        port = free_port()
        log_path = log_dir / f"api-{port}-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*_cli_command(), "api", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = ApiServer(home, port, process, log_path, env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{server.base_url}/openapi.json", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        problem = server.log()[-3000:]
        server.stop()
        if "address already in use" not in problem.lower():
            break
    raise RuntimeError(f"the API server did not come up:\n{problem}")


def wait_for_job(
    client: httpx.Client, job_id: str, states: tuple[str, ...], timeout_s: float = 240.0
) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until its status is one of states; the last answer."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        last = response.json()
        if last["status"] in states:
            return last
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {last.get('status')!r} after {timeout_s}s: {last}")
