"""Meetings and their program sessions: the public meeting pages and the organizers' CRUD."""


def init_app(app):
    from . import views

    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)
    app.extensions["default_language_for_request"] = views.meeting_language_of_request
