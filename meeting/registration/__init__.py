"""Registration of delegates and observers: the public form, the personal link, the accreditation
workflow with capacity and waiting list, and the organizers' registration pages."""


def init_app(app):
    from . import views
    from .models import Registration  # noqa: F401  (registers the table)

    app.register_blueprint(views.bp)
    app.register_blueprint(views.manage_bp)
