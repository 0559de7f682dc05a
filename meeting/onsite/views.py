"""The organizers' on-site pages under /manage/meetings/<slug>/: badges, check-in at the door (made
for a phone), the participation figures, and the erasure of personal data."""

from io import BytesIO
from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..core.errors import DomainError
from ..core.forms import show_refusal
from ..core.i18n import get_locale
from ..core.manage import manage_blueprint
from ..core.storage import path_for
from ..core.web import localtime, record_ids
from ..extensions import db
from ..meetings.services import find_meeting
from ..registration import participants
from ..registration import services as registration_services
from ..registration.models import Registration, RegistrationStatus
from . import badges, erasure, figures, jobs, services
from .forms import BadgeFilterForm, BadgePrintForm, CheckinCodeForm, CheckinSearchForm, ErasureForm
from .models import JobStatus

manage_bp = manage_blueprint("onsite", __name__)

# The QR-code scanner (npm package @zxing/browser, installed by `npm ci` into node_modules/, which
# is not kept in the repository); served from there, as the Content-Security-Policy allows scripts
# from this site only.
SCANNER_DIRECTORY = Path(__file__).resolve().parent.parent.parent / "node_modules" / "@zxing" / "browser" / "umd"
SCANNER_FILE = "zxing-browser.min.js"


def _meeting_or_404(slug):
    meeting = find_meeting(slug)
    if meeting is None:
        abort(404)
    return meeting


@manage_bp.get("/onsite/scanner.js")
def scanner_library():
    return send_from_directory(SCANNER_DIRECTORY, SCANNER_FILE, mimetype="text/javascript", max_age=86400)


# Badges -----------------------------------------------------------------------------------------


def _badge_filters(meeting, formdata):
    form = BadgeFilterForm(formdata)
    form.set_organizations(registration_services.registered_organizations(meeting), get_locale())
    return form


def _render_badges(meeting, filters, print_form, status=200):
    selection = filters.selection()
    return render_template(
        "onsite/badges.html",
        meeting=meeting,
        filters=filters,
        print_form=print_form,
        registrations=badges.selected_registrations(meeting, selection),
        jobs=jobs.jobs_for_meeting(meeting),
        language=get_locale(),
        erased=erasure.erasure_of(meeting),
        inline_limit=current_app.config["BADGES_INLINE_LIMIT"],
    ), status


@manage_bp.get("/meetings/<slug>/badges")
def badges_page(slug):
    meeting = _meeting_or_404(slug)
    return _render_badges(meeting, _badge_filters(meeting, request.args), BadgePrintForm(formdata=None))


@manage_bp.post("/meetings/<slug>/badges")
def print_badges(slug):
    meeting = _meeting_or_404(slug)
    filters = _badge_filters(meeting, request.form)
    form = BadgePrintForm()
    if not form.validate_on_submit():
        return _render_badges(meeting, filters, form, 422)
    ids = None
    if request.form.get("scope") == "ticked":
        ids = record_ids(request.form.getlist("ids"))
        if not ids:
            flash(_("Tick the participants whose badges you want, or print the badges of all those listed."), "error")
            return _render_badges(meeting, filters, form, 422)
    try:
        run = services.print_badges(meeting, filters.selection(form.sort.data, ids), form.layout.data, current_user)
    except DomainError as error:
        show_refusal(form, error)
        return _render_badges(meeting, filters, form, 422)
    db.session.commit()
    if run.job is not None:
        flash(_("The badges are being made: this page shows when the PDF is ready."), "info")
        return redirect(url_for(".badge_job", slug=meeting.slug, job_id=run.job.id))
    return send_file(
        BytesIO(run.pdf), mimetype="application/pdf", as_attachment=True, download_name=run.filename, max_age=0
    )


@manage_bp.get("/meetings/<slug>/badges/runs/<int:job_id>")
def badge_job(slug, job_id):
    meeting = _meeting_or_404(slug)
    job = services.get_job(meeting, job_id)
    # Reloaded every few seconds until the PDF is ready (a header: the page may run no script of its own).
    headers = {"Refresh": "3"} if job.is_pending else {}
    return render_template("onsite/badge_job.html", meeting=meeting, job=job), headers


@manage_bp.get("/meetings/<slug>/badges/runs/<int:job_id>/badges.pdf")
def badge_job_pdf(slug, job_id):
    meeting = _meeting_or_404(slug)
    job = services.get_job(meeting, job_id)
    if job.status != JobStatus.DONE:
        abort(404)
    path = path_for(job.storage_key)
    if not path.is_file():
        abort(404)
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{meeting.slug}-badges-{job.layout}-{job.id}.pdf",
        conditional=True,
        max_age=0,
    )


# Check-in ---------------------------------------------------------------------------------------


def _checked_in_counts(meeting):
    confirmed = db.select(db.func.count(Registration.id)).where(
        Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED
    )
    checked_in = confirmed.where(Registration.checked_in_at.is_not(None))
    return db.session.scalar(checked_in), db.session.scalar(confirmed)


def _render_checkin(meeting, code_form, status=200):
    search = CheckinSearchForm(request.args)
    checked_in, confirmed = _checked_in_counts(meeting)
    return render_template(
        "onsite/checkin.html",
        meeting=meeting,
        code_form=code_form,
        search=search,
        results=services.search_by_name(meeting, search.q.data) if search.validate() else [],
        checked_in=checked_in,
        confirmed=confirmed,
        language=get_locale(),
    ), status


@manage_bp.get("/meetings/<slug>/checkin")
def checkin(slug):
    meeting = _meeting_or_404(slug)
    return _render_checkin(meeting, CheckinCodeForm(formdata=None))


@manage_bp.post("/meetings/<slug>/checkin")
def checkin_code(slug):
    meeting = _meeting_or_404(slug)
    form = CheckinCodeForm()
    if form.validate_on_submit():
        try:
            registration = services.find_by_code(meeting, form.code.data)
        except DomainError as error:
            form.code.errors = [*form.code.errors, error.message]
        else:
            return redirect(url_for(".arrival", slug=meeting.slug, registration_id=registration.id))
    return _render_checkin(meeting, form, 422)


@manage_bp.get("/meetings/<slug>/checkin/<int:registration_id>")
def arrival(slug, registration_id):
    meeting = _meeting_or_404(slug)
    registration = registration_services.get_registration(meeting, registration_id)
    return render_template(
        "onsite/arrival.html",
        meeting=meeting,
        registration=registration,
        name=services.display_name(registration),
        refusal=services.refusal(registration),
        already=services.checked_in_message(meeting, registration) if registration.checked_in_at else None,
        language=get_locale(),
        badge_form=BadgePrintForm(formdata=None),
    )


@manage_bp.post("/meetings/<slug>/checkin/<int:registration_id>")
def check_in(slug, registration_id):
    meeting = _meeting_or_404(slug)
    try:
        registration = services.check_in(meeting, registration_id)
    except (services.AlreadyCheckedIn, services.CheckInRefused) as refused:
        flash(refused.message, "warning" if isinstance(refused, services.AlreadyCheckedIn) else "error")
        return redirect(url_for(".arrival", slug=meeting.slug, registration_id=registration_id))
    db.session.commit()
    flash(
        _(
            "%(name)s is checked in (%(time)s).",
            name=services.display_name(registration),
            time=localtime(registration.checked_in_at, meeting.timezone),
        ),
        "success",
    )
    return redirect(url_for(".checkin", slug=meeting.slug))


@manage_bp.post("/meetings/<slug>/checkin/<int:registration_id>/new-code")
def replace_badge_code(slug, registration_id):
    meeting = _meeting_or_404(slug)
    registration = services.replace_badge_code(meeting, registration_id)
    db.session.commit()
    flash(_("The badge has a new code: print it again. The previous badge no longer checks anyone in."), "success")
    return redirect(url_for(".arrival", slug=meeting.slug, registration_id=registration.id))


# Participation figures --------------------------------------------------------------------------


@manage_bp.get("/meetings/<slug>/figures")
def figures_page(slug):
    meeting = _meeting_or_404(slug)
    return render_template("onsite/figures.html", meeting=meeting, figures=figures.figures(meeting))


@manage_bp.get("/meetings/<slug>/figures.csv")
def figures_csv(slug):
    meeting = _meeting_or_404(slug)
    return Response(
        figures.csv_text(figures.figures(meeting)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{figures.csv_filename(meeting)}"'},
    )


# Data protection --------------------------------------------------------------------------------


def _render_erasure(meeting, form, status=200):
    return render_template(
        "onsite/personal_data.html",
        meeting=meeting,
        form=form,
        refusal=erasure.refusal(meeting),
        erased=erasure.erasure_of(meeting),
        erasable_from=erasure.erasable_from(meeting),
        list_published=participants.is_published(meeting),
    ), status


@manage_bp.get("/meetings/<slug>/personal-data")
def personal_data(slug):
    meeting = _meeting_or_404(slug)
    return _render_erasure(meeting, ErasureForm(formdata=None))


@manage_bp.post("/meetings/<slug>/personal-data/erase")
def erase_personal_data(slug):
    meeting = _meeting_or_404(slug)
    form = ErasureForm()
    if form.validate_on_submit():
        try:
            result = erasure.erase_personal_data(meeting, form.confirmation.data)
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(
                ngettext(
                    "The personal data of %(num)d registration has been erased.",
                    "The personal data of %(num)d registrations has been erased.",
                    result.registrations,
                ),
                "success",
            )
            return redirect(url_for(".personal_data", slug=meeting.slug))
    return _render_erasure(meeting, form, 422)
