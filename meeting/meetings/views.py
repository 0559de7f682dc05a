"""Public meeting pages and the organizers' meeting management."""

from flask import Blueprint, render_template

from ..core.manage import manage_blueprint
from ..extensions import db
from .models import Meeting, MeetingStatus

bp = Blueprint("meetings", __name__)
manage_bp = manage_blueprint("meetings", __name__)


@bp.get("/")
def index():
    meetings = db.session.scalars(
        db.select(Meeting).where(Meeting.status == MeetingStatus.PUBLISHED).order_by(Meeting.starts_on)
    ).all()
    return render_template("meetings/index.html", meetings=meetings)


@manage_bp.get("/")
def list_meetings():
    meetings = db.session.scalars(db.select(Meeting).order_by(Meeting.starts_on.desc())).all()
    return render_template("meetings/manage_list.html", meetings=meetings)
