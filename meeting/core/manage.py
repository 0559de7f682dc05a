"""Blueprints for organizers: every route under /manage requires an organizer login, enforced
once per blueprint so that no view can forget it."""

from flask import Blueprint
from flask_login import current_user

from ..extensions import login_manager


def require_organizer():
    if not current_user.is_authenticated or not current_user.is_organizer:
        return login_manager.unauthorized()
    return None


def manage_blueprint(name, import_name, url_prefix=""):
    bp = Blueprint(f"{name}_manage", import_name, url_prefix=f"/manage{url_prefix}")
    bp.before_request(require_organizer)
    return bp
