"""Organizer accounts: sign-in with lockout, roles, passwords and API tokens."""


def init_app(app):
    from ..extensions import login_manager
    from . import cli, views
    from .models import User  # noqa: F401  (registers the table)

    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)
    app.cli.add_command(cli.organizer_command)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = views.LOGIN_MESSAGE
    login_manager.login_message_category = "info"
    login_manager.user_loader(views.load_user)
