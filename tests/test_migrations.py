"""The migrations build the whole schema on an empty database, go down to nothing and up again,
and match the models exactly (`flask db check` finds no drift) — on SQLite and PostgreSQL."""

import os

import psycopg
import pytest
from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from meeting import create_app
from meeting.extensions import db
from meeting.meetings.models import Meeting

from .conftest import WORKER, make_config

SCRATCH_DATABASE = f"meeting_migrations_test{WORKER and '_' + WORKER}"  # one per pytest-xdist worker


@pytest.fixture
def empty_database_url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    url = make_url(os.environ["TEST_DATABASE_URL"])
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {SCRATCH_DATABASE}")
    yield url.set(database=SCRATCH_DATABASE).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DATABASE} WITH (FORCE)")


def test_migrations_upgrade_downgrade_and_match_the_models(empty_database_url, tmp_path):
    app = create_app(make_config(empty_database_url, tmp_path))
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        check()  # raises when the models and the migrations differ

        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        upgrade()
        assert set(db.metadata.tables) <= set(inspect(db.engine).get_table_names())
        check()
        db.engine.dispose()


def test_migrations_keep_the_meetings_of_an_existing_database(empty_database_url, tmp_path):
    """A database made by the first migration, with a meeting in it, upgrades to head: the new
    columns get their defaults and nothing is lost."""
    app = create_app(make_config(empty_database_url, tmp_path))
    with app.app_context():
        upgrade(revision="5ec902552ab8")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO meetings (slug, symbol_prefix, title, kind, description, venue, city, timezone,"
                    " starts_on, ends_on, chair, status, languages, created_at, updated_at) VALUES ('old', 'OLD',"
                    " 'An earlier meeting', 'consultation', '', 'Geneva', 'Geneva', 'Europe/Zurich', '2030-01-07',"
                    " '2030-01-08', '', 'published', 'en', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
        upgrade()
        meeting = db.session.scalar(db.select(Meeting).where(Meeting.slug == "old"))
        assert meeting.title == "An earlier meeting"
        assert meeting.requires_credentials is False
        db.session.remove()
        db.engine.dispose()
