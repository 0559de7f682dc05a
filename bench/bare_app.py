"""The ceiling of the registration burst: the least a Flask app does for a registration form.

`GET /register` gives a form with its CSRF token in a signed cookie session, as the product's form
does; `POST /register` checks the token (Flask-WTF), reads the same multipart form and inserts one
row, in one transaction, into `bench_registrations` of the same PostgreSQL database, then redirects.
No rules, no seats, no email, no templates: what is left is the cost of Flask, the form, the
database round trips and the commit. gunicorn serves it with the product's settings:

    MEETING_SECRET_KEY=... MEETING_SQLALCHEMY_DATABASE_URI=postgresql+psycopg://... gunicorn bench.bare_app:app
"""

import os

from flask import Flask, redirect, request
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, func, insert

metadata = MetaData()
registrations = Table(
    "bench_registrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("given_name", String(200), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("organization", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

app = Flask(__name__)
app.config.update(SECRET_KEY=os.environ.get("MEETING_SECRET_KEY", "bench"), WTF_CSRF_TIME_LIMIT=None)
CSRFProtect(app)
engine = create_engine(os.environ.get("MEETING_SQLALCHEMY_DATABASE_URI", "sqlite://"), pool_pre_ping=True)

FORM = """<!doctype html>
<title>Register</title>
<form method="post" enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{token}">
<input name="given_name"> <input name="family_name"> <input name="email" type="email">
<input name="organization"> <input name="credentials" type="file"> <button>Register</button>
</form>
"""


@app.get("/register")
def form():
    return FORM.format(token=generate_csrf())


@app.post("/register")
def register():
    values = {name: request.form.get(name, "") for name in ("given_name", "family_name", "email", "organization")}
    with engine.begin() as connection:
        registration_id = connection.execute(insert(registrations).returning(registrations.c.id), values).scalar_one()
    return redirect(f"/r/{registration_id}")


def create_table(url: str) -> None:
    """Called by the benchmark before it starts the app (not by the workers, which would race)."""
    bench_engine = create_engine(url)
    metadata.drop_all(bench_engine)
    metadata.create_all(bench_engine)
    bench_engine.dispose()
