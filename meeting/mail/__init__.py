"""The email outbox: every email is a row written with the action that caused it, rendered in the
recipient's language, sent later by `flask outbox deliver`, and visible to organizers."""


def init_app(app):
    from . import cli, views
    from .models import OutboxMessage  # noqa: F401  (registers the table)
    from .services import external_url

    app.register_blueprint(views.manage_bp)
    app.cli.add_command(cli.outbox_command)
    app.jinja_env.globals["external_url"] = external_url
