"""The directory of organizations: States seeded from Babel's locale data, IGOs, NGOs, contacts."""


def init_app(app):
    from . import cli, views

    app.register_blueprint(views.manage_bp)
    app.cli.add_command(cli.directory_command)
