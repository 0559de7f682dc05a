"""The application as a whole: configuration, protection of organizer pages, security headers,
error pages, request logging and the language of pages."""

import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import render_template_string
from flask_babel import force_locale

from meeting import create_app
from meeting.accounts.models import User
from meeting.extensions import db

from . import factories

ROOT = Path(__file__).resolve().parent.parent


def sample_url(rule):
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if kind in ("IntegerConverter", "FloatConverter"):
            values[name] = 1
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "x"
    return rule.build(values, append_unknown=False)[1]


def manage_rules(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/manage")]
    assert len(rules) > 5  # the walk below really covers the organizer pages
    return rules


def test_every_manage_page_sends_anonymous_visitors_to_the_login_page(app, client):
    for rule in manage_rules(app):
        if "GET" not in rule.methods:
            continue
        url = sample_url(rule)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.location.startswith("/login?next="), url


def test_every_manage_form_refuses_a_post_without_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    posts = [rule for rule in manage_rules(app) if "POST" in rule.methods]
    assert posts
    for rule in posts:
        url = sample_url(rule)
        response = client.post(url, data={})
        assert response.status_code == 400, url
        assert "The form has expired" in response.get_data(as_text=True)


def test_public_forms_refuse_a_post_without_csrf_token(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"email": "a@example.org", "password": "x"})
    assert response.status_code == 400


def test_missing_secret_key_refuses_to_start_outside_debug_and_testing(monkeypatch):
    monkeypatch.delenv("MEETING_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    with pytest.raises(RuntimeError, match="MEETING_SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_environment_variables_with_the_meeting_prefix_override_settings(monkeypatch):
    monkeypatch.setenv("MEETING_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("MEETING_PER_PAGE", "7")
    monkeypatch.setenv("MEETING_MAIL_SERVER", "smtp.example.org")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["PER_PAGE"] == 7
    assert app.config["MAIL_SERVER"] == "smtp.example.org"


def test_pages_carry_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_request_is_logged_with_method_path_status_and_duration(client, caplog):
    with caplog.at_level(logging.INFO, logger="meeting.request"):
        client.get("/no-such-page")
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name == "meeting.request"]
    assert entries[-1]["method"] == "GET"
    assert entries[-1]["path"] == "/no-such-page"
    assert entries[-1]["status"] == 404
    assert entries[-1]["duration_ms"] >= 0


def test_unknown_page_answers_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_unexpected_error_answers_500_without_internals(app, client, caplog):
    @app.get("/explode")
    def explode():
        raise ValueError("secret internal detail")

    with caplog.at_level(logging.ERROR):
        response = client.get("/explode")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert "secret internal detail" not in page and "Traceback" not in page
    assert "secret internal detail" in caplog.text  # but the Secretariat's log has it


def test_language_switch_is_remembered(client):
    response = client.post("/language", data={"lang": "fr", "next": "/"})
    assert response.status_code == 302 and response.location == "/"
    assert '<html lang="fr">' in client.get("/").get_data(as_text=True)


def test_language_switch_ignores_unknown_languages_and_foreign_redirects(client):
    response = client.post("/language", data={"lang": "xx", "next": "https://evil.example/"})
    assert response.location == "/"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_browser_language_is_used_when_no_choice_was_made(client):
    page = client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="es">' in page


def test_every_page_offers_the_three_languages_and_a_skip_link(client):
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'value="en"[^>]*lang="en"', page)
    assert 'value="fr"' in page and 'value="es"' in page
    assert 'href="#main"' in page


def test_a_write_refused_by_a_database_constraint_answers_409_and_saves_nothing(app, client, organizer):
    """Two organizers saving the same thing at once: the database's unique constraint decides."""

    @app.post("/race")
    def race():
        db.session.add(User(email="secretariat@example.org", password_hash="x"))
        db.session.commit()
        return "saved"

    response = client.post("/race")
    assert response.status_code == 409
    assert "Someone else just saved this" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_a_method_not_allowed_says_which_methods_are(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert "Not allowed" in response.get_data(as_text=True)


def test_a_regional_browser_language_counts_for_its_language(client):
    page = client.get("/", headers={"Accept-Language": "fr-CH, en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="fr">' in page


def test_a_meeting_page_without_any_language_preference_speaks_the_meetings_main_language(app, client):
    with app.app_context():
        factories.make_meeting(slug="reunion", languages="fr,en")
        db.session.commit()
    assert '<html lang="fr">' in client.get("/meetings/reunion").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)  # no meeting: the first language
    page = client.get("/meetings/reunion", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es">' in page  # the browser's preference comes first


def test_the_wsgi_entry_point_keeps_the_apps_startup_objects_out_of_the_garbage_collectors_rounds(tmp_path):
    """`gunicorn app:app` imports app.py in each worker: what the app made at start-up is frozen
    (`gc.freeze`), so full collections no longer walk through it."""
    script = "import gc; baseline = gc.get_freeze_count(); import app; print(baseline, gc.get_freeze_count())"
    environment = {
        **os.environ,
        "MEETING_SECRET_KEY": "test-secret",
        "MEETING_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'entry.sqlite3'}",
        "MEETING_STORAGE_DIR": str(tmp_path / "storage"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )

    before, after = map(int, result.stdout.split())
    assert before == 0 and after > 50_000  # the modules, models, routes and templates of the app


def test_dates_in_templates_are_written_in_the_language_in_force_each_time(app):
    """`dateformat` and `localdate` remember what they wrote (an invitation round writes the same dates
    thousands of times), per language: French after English is still French."""
    day = date(2027, 3, 3)
    written = {}
    with app.test_request_context():
        for language in ("en", "fr", "es", "en"):
            with force_locale(language):
                written.setdefault(language, []).append(
                    render_template_string('{{ day|dateformat("long") }} / {{ day|localdate }}', day=day)
                )

    assert written == {
        "en": ["March 3, 2027 / March 3, 2027"] * 2,
        "fr": ["3 mars 2027 / 3 mars 2027"],
        "es": ["3 de marzo de 2027 / 3 de marzo de 2027"],
    }
    # The instants of a meeting's timezone follow the language in force too.
    moment = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("fr"):
            french = render_template_string('{{ moment|localdatetime("Europe/Zurich", "long") }}', moment=moment)
        with force_locale("en"):
            english = render_template_string('{{ moment|localtime("Europe/Zurich") }}', moment=moment)
    assert french.startswith("3 mars 2027") and "10:00:00" in french
    assert english.startswith("10:00") and "AM" in english
