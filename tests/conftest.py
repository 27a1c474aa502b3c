"""Shared fixtures: a temporary PROTEA_HOME per test, the store on SQLite and on PostgreSQL,
and the bundled demo data loaded once per session and copied for each test that exports."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from protea_pipelines.ontology import clear_ontology_cache
from protea_pipelines.store.db import dispose_engines

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reset_process_state() -> None:
    dispose_engines()
    clear_ontology_cache()


@pytest.fixture
def protea_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty PROTEA_HOME with SQLite storage, private to one test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PROTEA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("PROTEA_DATABASE_URL", raising=False)
    monkeypatch.delenv("PROTEA_EXPORT_MINIJOBS", raising=False)
    _reset_process_state()
    yield home
    _reset_process_state()


def postgres_base_url() -> str | None:
    return os.environ.get("PROTEA_TEST_DATABASE_URL")


def _postgres_or_skip() -> str:
    url = postgres_base_url()
    problem = None
    if not url:
        problem = "PROTEA_TEST_DATABASE_URL is not set"
    else:
        try:
            with create_engine(url).connect() as connection:
                connection.execute(text("select 1"))
        except Exception as error:
            problem = f"PostgreSQL at {make_url(url).render_as_string()} unreachable: {error}"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    assert url is not None
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; the URL pins search_path to it."""
    base = _postgres_or_skip()
    schema = f"protea_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        _reset_process_state()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, protea_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The store on each backend in turn; yields the backend's name."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("PROTEA_DATABASE_URL", url)
        _reset_process_state()
    yield request.param


@pytest.fixture(scope="session")
def demo_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data loaded once into a SQLite PROTEA_HOME; tests copy it, never write to it."""
    from protea_pipelines.demo import load_demo_data

    home = tmp_path_factory.mktemp("demo-template")
    saved = {key: os.environ.get(key) for key in ("PROTEA_HOME", "PROTEA_DATABASE_URL")}
    os.environ["PROTEA_HOME"] = str(home)
    os.environ.pop("PROTEA_DATABASE_URL", None)
    _reset_process_state()
    try:
        load_demo_data()
    finally:
        _reset_process_state()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return home


@pytest.fixture
def demo_home(demo_home_template: Path, protea_home: Path) -> Path:
    """A private copy of the loaded demo home, as PROTEA_HOME."""
    shutil.rmtree(protea_home)
    shutil.copytree(demo_home_template, protea_home)
    _reset_process_state()
    return protea_home
