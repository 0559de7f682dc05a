"""Invitations to a meeting: chosen from the directory, sent through the outbox, followed by organizers
(status, reminders, resend, revoke) and answered by delegations through a personal link."""


def init_app(app):
    from . import views
    from .models import Invitation  # noqa: F401  (registers the table)

    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)
