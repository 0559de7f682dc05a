"""Public meeting pages and the organizers' meeting management under /manage."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from ..core.audit import entries_for_meeting
from ..core.errors import DomainError
from ..core.forms import show_refusal
from ..core.manage import manage_blueprint
from ..documents import services as document_services
from ..extensions import db
from ..program import services as program_services
from . import services
from .forms import MeetingForm, ProgramSessionForm, language_in_sentence
from .models import Meeting

bp = Blueprint("meetings", __name__)
manage_bp = manage_blueprint("meetings", __name__)

# The registration module adds this endpoint; the meeting page links to it only when it exists.
REGISTER_ENDPOINT = "registration.register"

AUDIT_PER_PAGE = 50


def _meeting_or_404(slug, **options):
    meeting = services.find_meeting(slug, **options)
    if meeting is None:
        abort(404)
    return meeting


def _session_or_404(meeting, session_id):
    session = services.find_session(meeting, session_id)
    if session is None:
        abort(404)
    return session


def meeting_language_of_request():
    """The main language of the meeting whose page is asked for (by its slug), if any."""
    slug = (request.view_args or {}).get("slug")
    if not slug:
        return None
    languages = db.session.scalar(db.select(Meeting.languages).where(Meeting.slug == slug))
    return languages.split(",")[0] if languages else None


# Public pages ----------------------------------------------------------------------------------


@bp.get("/")
def index():
    upcoming, past = services.public_meetings()
    return render_template("meetings/index.html", upcoming=upcoming, past=past)


@bp.get("/meetings/<slug>")
def show(slug):
    meeting = _meeting_or_404(slug, with_sessions=True)
    preview = not meeting.is_public
    if preview and not (current_user.is_authenticated and current_user.is_organizer):
        abort(404)
    documents = document_services.public_listing(meeting)
    page = render_template(
        "meetings/show.html",
        meeting=meeting,
        preview=preview,
        program=program_services.public_program(meeting),
        documents=documents,
        registration_state=meeting.registration_state(),
        can_register=REGISTER_ENDPOINT in current_app.view_functions,
    )
    _remember_documents_visit(documents)
    return page


def _remember_documents_visit(documents):
    """A participant's visit, for the "new since your last visit" marks of the next one: written after
    the page is rendered (a commit would expire what the page shows), in its own short transaction;
    a failure (a busy database) is logged and never costs the visitor the page."""
    try:
        if document_services.remember_documents_visit(documents):
            db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("visit of the meeting page not remembered", exc_info=True)


# Organizers: meetings --------------------------------------------------------------------------


@manage_bp.get("/")
def list_meetings():
    return render_template("meetings/manage_list.html", meetings=services.all_meetings())


@manage_bp.route("/meetings/new", methods=["GET", "POST"])
def new_meeting():
    form = MeetingForm()
    if form.validate_on_submit():
        try:
            meeting = services.create_meeting(form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The meeting “%(title)s” has been created as a draft.", title=meeting.title), "success")
            return redirect(url_for(".overview", slug=meeting.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("meetings/manage_form.html", form=form, meeting=None), status


@manage_bp.route("/meetings/<slug>/edit", methods=["GET", "POST"])
def edit_meeting(slug):
    meeting = _meeting_or_404(slug)
    form = MeetingForm() if request.method == "POST" else MeetingForm.for_meeting(meeting)
    if form.validate_on_submit():
        try:
            services.update_meeting(meeting, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The meeting has been saved."), "success")
            return redirect(url_for(".overview", slug=meeting.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("meetings/manage_form.html", form=form, meeting=meeting), status


@manage_bp.get("/meetings/<slug>")
def overview(slug):
    meeting = _meeting_or_404(slug, with_sessions=True)
    return render_template(
        "meetings/manage_overview.html",
        meeting=meeting,
        actions=services.status_actions(meeting),
        registration_state=meeting.registration_state(),
        language_in_sentence=language_in_sentence,
    )


@manage_bp.post("/meetings/<slug>/status/<action>")
def change_status(slug, action):
    meeting = _meeting_or_404(slug)
    try:
        services.change_status(meeting, action)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The meeting is now %(status)s.", status=meeting.status_label.lower()), "success")
    return redirect(url_for(".overview", slug=meeting.slug))


@manage_bp.get("/meetings/<slug>/audit")
def audit_log(slug):
    meeting = _meeting_or_404(slug)
    page = entries_for_meeting(meeting, page=request.args.get("page", 1, type=int), per_page=AUDIT_PER_PAGE)
    return render_template("meetings/manage_audit.html", meeting=meeting, page=page)


# Organizers: program sessions ------------------------------------------------------------------


@manage_bp.get("/meetings/<slug>/sessions")
def list_sessions(slug):
    meeting = _meeting_or_404(slug, with_sessions=True)
    return render_template("meetings/manage_sessions.html", meeting=meeting)


@manage_bp.route("/meetings/<slug>/sessions/new", methods=["GET", "POST"])
def new_session(slug):
    meeting = _meeting_or_404(slug, with_sessions=True)
    form = ProgramSessionForm() if request.method == "POST" else ProgramSessionForm.for_new_session(meeting)
    if form.validate_on_submit():
        try:
            session = services.add_session(meeting, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The session “%(title)s” has been added to the program.", title=session.title), "success")
            return redirect(url_for(".list_sessions", slug=meeting.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("meetings/manage_session_form.html", form=form, meeting=meeting, session=None), status


@manage_bp.route("/meetings/<slug>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
def edit_session(slug, session_id):
    meeting = _meeting_or_404(slug)
    session = _session_or_404(meeting, session_id)
    form = ProgramSessionForm() if request.method == "POST" else ProgramSessionForm.for_session(session)
    if form.validate_on_submit():
        try:
            services.update_session(session, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The session “%(title)s” has been saved.", title=session.title), "success")
            return redirect(url_for(".list_sessions", slug=meeting.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("meetings/manage_session_form.html", form=form, meeting=meeting, session=session), status


@manage_bp.post("/meetings/<slug>/sessions/<int:session_id>/delete")
def delete_session(slug, session_id):
    meeting = _meeting_or_404(slug)
    session = _session_or_404(meeting, session_id)
    title = session.title
    try:
        services.delete_session(session)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The session “%(title)s” has been deleted.", title=title), "success")
    return redirect(url_for(".list_sessions", slug=meeting.slug))
