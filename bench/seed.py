"""The benchmark's database and data: a dedicated PostgreSQL database created and dropped by the run,
migrated with `flask db upgrade`, and filled through the app's own models with multi-row INSERTs
(thousands of rows in a second or two)."""

import hashlib
import os
import secrets
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import insert, text

from meeting import create_app
from meeting.core.models import utcnow
from meeting.directory.models import Contact, Organization, search_key
from meeting.documents.models import Document, DocumentFile
from meeting.extensions import db
from meeting.meetings.models import Meeting
from meeting.registration.models import Registration

from .servers import ROOT, VENV_BIN

ORGANIZER_EMAIL = "bench.organizer@meeting.example"
ORGANIZER_PASSWORD = "bench-organizer-password"

# Names with the accents and letters a real list has, so that collation and PDF fonts do real work.
GIVEN_NAMES = ("María José", "Jean-Pierre", "Ngozi", "Søren", "Zoë", "Li", "Ana", "Håkon", "Émilie", "Oluwaseun")
FAMILY_NAMES = ("Álvarez", "Dupont", "Okonjo-Iweala", "Ørsted", "Nguyễn", "Müller", "Ñúñez", "Çelik", "O'Brien")


def admin_url(database_url: str) -> str:
    """The libpq URL of the server's `postgres` database, from the SQLAlchemy URL of any database."""
    server = database_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    return f"{server}/postgres"


def create_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version(database_url: str) -> str:
    with psycopg.connect(admin_url(database_url)) as connection:
        return connection.execute("SELECT version()").fetchone()[0]


def flask(env, *args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=check,
    )


def migrate(env, database_url: str) -> str:
    """Apply the migrations (`flask db upgrade`). Returns how the schema was made, for the results.

    While a model change waits for its migration (the migration is written once a feature is done),
    `flask db check` finds the difference: the schema is then made from the models instead, and the
    results say so."""
    flask(env, "db", "upgrade")
    check = flask(env, "db", "check", check=False)
    if check.returncode == 0:
        return "flask db upgrade"
    create_database(database_url)
    app = bench_app(database_url, storage_dir=None)
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    pending = [line.split("Detected ", 1)[1] for line in check.stderr.splitlines() if "Detected " in line]
    return "the models (db.create_all): the migrations lag the models, `flask db check` found: " + "; ".join(
        line for line in pending if "sequence" not in line
    )


def bench_app(database_url: str, storage_dir):
    config = {"SECRET_KEY": "bench-seeding", "SQLALCHEMY_DATABASE_URI": database_url, "BASE_URL": "http://bench"}
    if storage_dir:
        config["STORAGE_DIR"] = str(storage_dir)
    return create_app(config)


def create_organizer(env) -> str:
    """The organizer account of the run and an API token for it, made with the documented commands."""
    flask(env, "organizer", "create", ORGANIZER_EMAIL, "--password", ORGANIZER_PASSWORD, "--name", "Bench")
    return flask(env, "organizer", "token", ORGANIZER_EMAIL, "--name", "bench").stdout.strip().splitlines()[-1]


def _organizations(kind, count, *, start=1, label, languages=("en", "fr", "es"), now):
    rows = []
    for number in range(start, start + count):
        name_en = f"{label} {number:04d}"
        names = {"name_en": name_en, "name_fr": f"{label} {number:04d} (fr)", "name_es": f"{label} {number:04d} (es)"}
        rows.append(
            {
                "kind": kind,
                **names,
                "acronym": "",
                "accreditation": "none",
                "preferred_language": languages[number % len(languages)],
                "active": True,
                "search_text": "\n".join(search_key(name) for name in names.values()),
                "created_at": now,
                "updated_at": now,
            }
        )
    ids = db.session.scalars(insert(Organization).returning(Organization.id, sort_by_parameter_order=True), rows).all()
    db.session.execute(
        insert(Contact), [{"organization_id": i, "email": f"focal.point@org{i}.example.org", "name": ""} for i in ids]
    )
    return ids


def seed_directory(app) -> dict:
    """A directory of the usual size: 190 Member States, 10 observer States, 40 IGOs."""
    now = utcnow()
    with app.app_context():
        states = _organizations("member_state", 190, label="Member State", now=now)
        _organizations("observer_state", 10, label="Observer State", now=now)
        igos = _organizations("igo", 40, label="Intergovernmental Organization", now=now)
        db.session.commit()
    return {"member_states": states, "igos": igos}


def _meeting(slug, title, *, capacity=None, days_ahead=28) -> Meeting:
    starts_on = date.today() + timedelta(days=days_ahead)
    meeting = Meeting(
        slug=slug,
        symbol_prefix="AVP/IM/03",
        title=title,
        venue="WIPO Headquarters",
        city="Geneva",
        timezone="Europe/Zurich",
        starts_on=starts_on,
        ends_on=starts_on + timedelta(days=1),
        chair="Chairman of the WIPO General Assembly",
        status="published",
        published_at=utcnow(),
        registration_opens_at=utcnow() - timedelta(days=1),
        registration_closes_at=datetime.combine(starts_on, datetime.min.time(), UTC),
        languages="en,fr,es",
        capacity=capacity,
    )
    db.session.add(meeting)
    db.session.flush()
    return meeting


def seed_burst_meeting(app, slug, capacity) -> int:
    with app.app_context():
        meeting = _meeting(
            slug, "Ad hoc Informal Meeting on the Protection of Audiovisual Performances", capacity=capacity
        )
        db.session.commit()
        return meeting.id


def reset_registrations(app, meeting_id) -> None:
    """Empty a meeting of its registrations, their emails and audit entries (between two rounds), then
    vacuum those tables: every round starts from tables without the dead rows of the one before, as
    the bare app's table, made anew for each round, does."""
    with app.app_context():
        for table in ("outbox_messages", "audit_entries", "registrations"):
            db.session.execute(text(f"DELETE FROM {table} WHERE meeting_id = :meeting"), {"meeting": meeting_id})
        db.session.commit()
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE meetings, registrations, outbox_messages, audit_entries")


def registration_counts(app, meeting_id) -> dict:
    with app.app_context():
        rows = db.session.execute(
            text("SELECT status, count(*) FROM registrations WHERE meeting_id = :meeting GROUP BY status"),
            {"meeting": meeting_id},
        ).all()
        emails = db.session.scalar(
            text("SELECT count(*) FROM outbox_messages WHERE meeting_id = :meeting"), {"meeting": meeting_id}
        )
    return {**dict(rows), "emails": emails}


def _write_study(storage_dir: Path, size: int) -> tuple[str, str]:
    """A file of `size` bytes in the storage directory, as an upload would leave it: (key, sha256)."""
    token = secrets.token_hex(16)
    key = f"{token[:2]}/{token}"
    path = storage_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    block = b"%PDF-1.4\n" + os.urandom(1024 * 1024 - 9)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        written = 0
        while written < size:
            chunk = block[: size - written]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return key, digest.hexdigest()


def seed_studies(app, storage_dir: Path, sizes: dict[str, int]) -> dict[str, dict]:
    """A published meeting with one public study per entry of `sizes` (name: bytes), each with an
    English file: {name: {"path": download URL path, "size": bytes, "key": storage key}}."""
    studies = {}
    with app.app_context():
        meeting = _meeting("bench-documents", "Information Meeting on Audiovisual Performances")
        for position, (name, size) in enumerate(sizes.items(), start=1):
            document = Document(
                meeting_id=meeting.id,
                symbol=f"AVP/IM/03/{position + 3}",
                title=f"Study {name}",
                kind="study",
                access="public",
                position=position,
                published_at=utcnow(),
            )
            db.session.add(document)
            db.session.flush()
            key, sha256 = _write_study(storage_dir, size)
            db.session.add(
                DocumentFile(
                    document_id=document.id,
                    language="en",
                    original_name=f"study-{name}.pdf",
                    content_type="application/pdf",
                    size=size,
                    sha256=sha256,
                    storage_key=key,
                    uploaded_at=utcnow(),
                )
            )
            path = f"/meetings/{meeting.slug}/documents/{document.id}/en"
            studies[name] = {"path": path, "size": size, "key": key}
        db.session.commit()
    return studies


def seed_participants(app, slug, count, organization_ids) -> int:
    """A meeting with `count` confirmed participants in the delegations of `organization_ids` (about
    eight each, heads of delegation first), plus a few of the Secretariat."""
    now = utcnow()
    with app.app_context():
        meeting = _meeting(slug, "Ad hoc Informal Meeting on the Protection of Audiovisual Performances")
        rows = []
        for number in range(count):
            secretariat = number % 100 == 99
            nonce = secrets.token_hex(16)
            rows.append(
                {
                    "meeting_id": meeting.id,
                    "organization_id": None if secretariat else organization_ids[number % len(organization_ids)],
                    "organization_name_other": "WIPO Secretariat" if secretariat else "",
                    "role": "secretariat"
                    if secretariat
                    else ("head_of_delegation" if number < len(organization_ids) else "delegate"),
                    "salutation": ("ms", "mr", "he_ms", "he_mr", "dr")[number % 5],
                    "given_name": GIVEN_NAMES[number % len(GIVEN_NAMES)],
                    "family_name": f"{FAMILY_NAMES[number % len(FAMILY_NAMES)]} {number:04d}",
                    "function": "Counsellor, Permanent Mission",
                    "email": f"participant{number}@example.org",
                    "preferred_language": "en",
                    "attendance": "in_person",
                    "consent_public_list": number % 3 != 0,
                    "status": "confirmed",
                    "token_nonce": nonce,
                    "token_hash": hashlib.sha256(nonce.encode()).hexdigest(),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        db.session.execute(insert(Registration), rows)
        db.session.commit()
        return meeting.id


def seed_invitation_directory(app, count) -> None:
    """`count` NGOs with a focal point each: the organizations the invitation round invites."""
    with app.app_context():
        _organizations("ngo", count, label="Non-Governmental Organization", now=utcnow())
        db.session.commit()


def invitation_meeting(app, round_number) -> str:
    slug = f"bench-invitations-{round_number}"
    with app.app_context():
        _meeting(slug, f"Information Session on Audiovisual Performances ({round_number})")
        db.session.commit()
    return slug


def clear_outbox(app, keep_meeting_slug) -> None:
    """Remove every email but those of one meeting, so that delivery sends exactly the round's."""
    with app.app_context():
        db.session.execute(
            text(
                "DELETE FROM outbox_messages WHERE meeting_id IS NULL OR meeting_id <> "
                "(SELECT id FROM meetings WHERE slug = :slug)"
            ),
            {"slug": keep_meeting_slug},
        )
        db.session.commit()


def outbox_counts(app, slug) -> dict:
    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT o.status, count(*) FROM outbox_messages o JOIN meetings m ON m.id = o.meeting_id "
                "WHERE m.slug = :slug GROUP BY o.status"
            ),
            {"slug": slug},
        ).all()
    return dict(rows)
