"""Meeting: a service that runs intergovernmental meetings end to end.

`create_app` builds the Flask application: configuration, extensions, blueprints and commands."""

import logging
import os
import secrets
import sys
from pathlib import Path

from flask import Flask

from .config import DefaultConfig
from .extensions import babel, csrf, db, login_manager, migrate
from .extensions import mail as mail_extension  # `mail` is the meeting.mail package

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config=None):
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(DefaultConfig)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")
    app.config.from_prefixed_env("MEETING")
    if test_config:
        app.config.from_mapping(test_config)
    _complete_config(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True)
    mail_extension.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    from .core import audit, i18n, web  # noqa: F401  (audit registers its table)

    babel.init_app(app, locale_selector=i18n.get_locale)
    web.init_app(app)
    _configure_logging(app)

    from . import accounts, api, directory, documents, invitations, mail, meetings, onsite, program, registration

    for module in (accounts, meetings, directory, mail, invitations, registration, program, documents, onsite, api):
        module.init_app(app)

    from .core import ratelimit

    ratelimit.init_app(app)  # after the blueprints: it limits some of their endpoints

    from .demo import demo_command

    app.cli.add_command(demo_command)
    return app


def _complete_config(app):
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'meeting.sqlite3'}"
    if not app.config.get("STORAGE_DIR"):
        app.config["STORAGE_DIR"] = str(Path(app.instance_path) / "storage")
    if isinstance(app.config["LANGUAGES"], str):
        app.config["LANGUAGES"] = tuple(app.config["LANGUAGES"].split(","))
    if not app.config.get("SECRET_KEY"):
        if app.debug or app.testing or _cli_command_without_server():
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        else:
            raise RuntimeError(
                "MEETING_SECRET_KEY is not set. Set it to a long random value shared by all web "
                "workers, for example: export MEETING_SECRET_KEY=$(python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )


def _cli_command_without_server():
    # `flask db upgrade`, `flask demo`... sign no cookies, so they need no secret key; `flask run`
    # and gunicorn serve pages and must have one.
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true" and "run" not in sys.argv[1:]


def _configure_logging(app):
    logger = logging.getLogger("meeting.request")
    logger.setLevel(logging.INFO)
    if not app.testing and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
