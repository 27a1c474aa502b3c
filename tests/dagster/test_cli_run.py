"""One export through the real `protea-pipelines` command against a temporary DAGSTER_HOME,
then its parent job and timeline through `jobs show` and `jobs events`; and a payload that
Dagster refuses at launch, which must still end its parent job."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from protea_pipelines.demo import demo_payload
from tests.dagster import (
    PARENT_JOB_TAG,
    REPO_ROOT,
    assert_fanout_timeline,
    copy_demo_home,
    use_home,
)

CLI = REPO_ROOT / ".venv" / "bin" / "protea-pipelines"
JOB_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

pytestmark = pytest.mark.slow


def _cli(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PROTEA_", "DAGSTER_"))
    }
    env.update(
        PROTEA_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        PROTEA_EXPORT_MINIJOBS="1",
    )
    return subprocess.run(
        [str(CLI), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _field(stdout: str, label: str) -> str:
    match = re.search(rf"^{label}[ \t]+(\S.*)$", stdout, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{stdout}"
    return match[1].strip()


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def cli_home(demo_home_template: Path, tmp_path: Path) -> Path:
    return copy_demo_home(demo_home_template, tmp_path / "cli-home")


def test_export_through_the_cli(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protea_home: Path
) -> None:
    payload_file = tmp_path / "payload.yaml"
    payload_file.write_text(yaml.safe_dump(demo_payload("cli-demo")))
    done = _cli(cli_home, "export", str(payload_file))
    assert done.returncode == 0, done.stdout + done.stderr
    job_id = _field(done.stdout, "parent job")
    assert re.fullmatch(JOB_ID, job_id), job_id
    assert _field(done.stdout, "status") == "succeeded"
    dataset = cli_home / "datasets" / "cli-demo"
    assert (dataset / "manifest.json").is_file()

    job = _json(_cli(cli_home, "jobs", "show", job_id, "--json", timeout=60))
    assert job["id"] == job_id
    assert job["status"] == "succeeded"
    assert job["operation"] == "export_research_dataset"
    assert job["progress_current"] == job["progress_total"] == 4
    assert job["meta"]["dataset_path"] == str(dataset)
    assert job["payload"]["output_name"] == "cli-demo"
    assert job["error_code"] is None
    assert job["dagster_run_id"]

    events = _json(_cli(cli_home, "jobs", "events", job_id, "--json", timeout=60))
    assert all(event["job_id"] == job_id for event in events)
    assert [event["id"] for event in events] == sorted(event["id"] for event in events)
    assert_fanout_timeline(events, [20091231, 20141231, 20200616, 20210408])

    # The run lives in the temporary DAGSTER_HOME, ended, tagged with its parent job.
    use_home(monkeypatch, cli_home)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(job["dagster_run_id"])
        assert run is not None
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "export_research_dataset"
        assert run.tags[PARENT_JOB_TAG] == job_id

    # Last, so that the checks above run too: the dataset line names the whole path, on one
    # line, as a script reading stdout (not a terminal) sees it.
    assert _field(done.stdout, "dataset") == str(dataset), done.stdout


def test_payload_with_an_unknown_key_fails_its_parent_job(cli_home: Path, tmp_path: Path) -> None:
    payload_file = tmp_path / "payload.yaml"
    payload_file.write_text(yaml.safe_dump({**demo_payload("cli-bad"), "bogus_key": 3}))
    done = _cli(cli_home, "export", str(payload_file))
    assert done.returncode != 0, done.stdout
    job_id = _field(done.stdout, "parent job")
    assert _field(done.stdout, "status") == "failed"
    assert "bogus_key" in done.stdout

    job = _json(_cli(cli_home, "jobs", "show", job_id, "--json", timeout=60))
    assert job["status"] == "failed"
    assert job["finished_at"] is not None
    assert job["error_code"] == "invalid_payload"
    assert "bogus_key" in job["error_message"]
    events = _json(_cli(cli_home, "jobs", "events", job_id, "--json", timeout=60))
    names = [event["name"] for event in events]
    assert names == ["export_coordinator.failed"]
    assert events[0]["level"] == "error"
    assert "bogus_key" in events[0]["message"]
    assert not (cli_home / "datasets" / "cli-bad").exists()

    missing = _cli(cli_home, "jobs", "show", "no-such-job", "--json", timeout=60)
    assert missing.returncode == 1
    assert missing.stderr == "error: no parent job no-such-job\n" and missing.stdout == ""
