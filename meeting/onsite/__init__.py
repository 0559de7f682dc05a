"""On site: badges with QR codes, check-in at the door, the participation figures for the report, and
the erasure of the participants' personal data once the retention period is over. Organizers only."""


def init_app(app):
    from . import cli, views
    from .models import BadgePrintJob, PersonalDataErasure  # noqa: F401  (registers the tables)

    app.register_blueprint(views.manage_bp)
    app.cli.add_command(cli.onsite_command)
