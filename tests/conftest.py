"""Fixtures: an app per test on a clean database, on SQLite and (when TEST_DATABASE_URL is set)
PostgreSQL; a test client, a CLI runner and a signed-in organizer."""

import os
import threading
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from jinja2 import BytecodeCache
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from meeting import create_app
from meeting.extensions import db

from . import factories

CHROMIUM = "/usr/bin/chromium"


def pytest_sessionstart(session):
    """Compile the catalogs, as `make translations` does, so that a plain `pytest` sees French and Spanish."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in Path(__file__).resolve().parent.parent.glob("translations/*/LC_MESSAGES/messages.po"):
        with open(po_path, "rb") as po_file:
            catalog = read_po(po_file)
        # Written aside, then renamed: the parallel workers (pytest-xdist) compile them at once, and
        # none must read a catalog half written.
        partial = po_path.with_suffix(f".mo.{os.getpid()}")
        with open(partial, "wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(partial, po_path.with_suffix(".mo"))


class SharedTemplateCache(BytecodeCache):
    """Compiled templates kept in memory for every app the tests make: each test has an app of its
    own, whose Jinja environment would otherwise compile every template it renders again (a fifth of
    a second for a page). Jinja keys them by name and source, so an edited template is compiled anew."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if (code := self.compiled.get((bucket.key, bucket.checksum))) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key, bucket.checksum] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": SharedTemplateCache()}


WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… when pytest-xdist runs the suite


def worker_postgresql_url(url: str) -> str:
    """TEST_DATABASE_URL for this process: under pytest-xdist each worker has its own database
    (`test_gw0`, `test_gw1`…, made on first use next to TEST_DATABASE_URL's), so that no test sees
    another's rows or waits on its locks."""
    if not WORKER:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{WORKER}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def make_config(database_url, tmp_path, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_DIR": str(tmp_path / "storage"),
        "WTF_CSRF_ENABLED": False,
        "MAIL_SUPPRESS_SEND": True,
        "BASE_URL": "http://meeting.test",
        "RATELIMIT_STORAGE_URI": "memory://",  # never a developer's shared Redis
        "DOWNLOAD_COUNT_SECONDS": 0,  # each download written at once (tests of the delay set their own)
        "DOWNLOAD_LOOKUP_SECONDS": 0,  # each download reads afresh (tests of the reuse set their own)
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """The schema is created once per backend; each test then starts from empty tables."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    else:
        url = worker_postgresql_url(os.environ["TEST_DATABASE_URL"])
    app = create_app(make_config(url, tmp_path_factory.mktemp("schema")))
    with app.app_context():
        db.drop_all()
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        db.engine.dispose()
    return url


@pytest.fixture
def backend(database_url):
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(make_config(database_url, tmp_path))
    yield app
    with app.app_context():
        db.session.remove()
        tables = [table.name for table in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    connection.execute(text(f"DELETE FROM {table}"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def organizer(app):
    with app.app_context():
        user = factories.make_organizer(email="secretariat@example.org", admin=False)
        db.session.commit()
        return user.id


@pytest.fixture
def admin(app):
    with app.app_context():
        user = factories.make_organizer(email="admin@example.org", admin=True)
        db.session.commit()
        return user.id


@pytest.fixture
def organizer_client(client, organizer):
    """A client signed in as an organizer."""
    response = client.post("/login", data={"email": "secretariat@example.org", "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def admin_client(client, admin):
    response = client.post("/login", data={"email": "admin@example.org", "password": factories.PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free local port, for the browser tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def pytest_collection_modifyitems(config, items):
    """The browser tests check what a person sees and does; the database behind the pages is covered
    on both backends by the HTTP tests, so the slow browser tests run on SQLite only."""
    kept, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("database_url") == "postgresql"
        (deselected if item.get_closest_marker("e2e") and on_postgresql else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
