"""The organizers' directory pages."""

from flask import render_template

from ..core.manage import manage_blueprint
from ..extensions import db
from .models import Organization

manage_bp = manage_blueprint("directory", __name__, "/directory")


@manage_bp.get("/")
def list_organizations():
    organizations = db.session.scalars(db.select(Organization).order_by(Organization.name_en)).all()
    return render_template("directory/list.html", organizations=organizations)
