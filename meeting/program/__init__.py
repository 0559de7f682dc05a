"""The program of a meeting: slots inside the program sessions, speakers and the offers of slots to
them, conflict detection, publication, and the program as iCalendar."""


def init_app(app):
    from . import views
    from .models import ProgramState  # noqa: F401  (registers the tables)

    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)
