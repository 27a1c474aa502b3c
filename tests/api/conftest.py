"""Fixtures that serve the API for real: `protea-pipelines api` as a subprocess on a free
loopback port, its environment pointing at a private copy of the loaded demo home.

At teardown the run workers the server launched (detached, in sessions of their own) are
killed with their process groups, then the server's own process group, then anything else
still running with that PROTEA_HOME.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api import TOKEN, ApiServer, start_server

StartApi = Callable[..., ApiServer]

DEFAULT_ENV: dict[str, str | None] = {
    "PROTEA_API_TOKEN": TOKEN,
    "PROTEA_EXPORT_MINIJOBS": "1",
    "PROTEA_API_PROTECT_READS": None,
}


@pytest.fixture
def start_api(demo_home: Path, tmp_path: Path) -> Iterator[StartApi]:
    """Start servers on this test's demo home; `start_api(env={...})` changes the defaults
    (a token, the fan-out export, open reads); a value of None removes the variable."""
    servers: list[ApiServer] = []

    def start(env: dict[str, str | None] | None = None) -> ApiServer:
        server = start_server(demo_home, tmp_path, {**DEFAULT_ENV, **(env or {})})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(start_api: StartApi) -> ApiServer:
    """A server with the default settings on this test's own demo home."""
    return start_api()


@pytest.fixture(scope="module")
def shared_api(
    demo_home_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """One server for a module's tests that never launch a run (refusals and reads)."""
    base = tmp_path_factory.mktemp("api-shared")
    home = base / "home"
    shutil.copytree(demo_home_template, home)
    server = start_server(home, base, dict(DEFAULT_ENV))
    yield server
    server.stop()
