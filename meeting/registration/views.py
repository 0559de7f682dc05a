"""The registration form, "email me my link", the personal link (`/r/<token>`: see, change, cancel),
and the organizers' registration pages under /manage/meetings/<slug>/registrations."""

from io import BytesIO

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext

from ..core.errors import DomainError
from ..core.forms import show_refusal
from ..core.i18n import get_locale
from ..core.manage import manage_blueprint
from ..core.models import utcnow
from ..core.storage import file_size_text, path_for
from ..core.web import record_id, record_ids, safe_next
from ..directory.forms import ACCREDITATION_LABELS, KIND_LABELS
from ..documents import distribution as document_distribution
from ..documents.forms import DocumentEmailsForm
from ..extensions import db
from ..invitations.services import invitation_by_token
from ..mail.forms import STATUS_LABELS as EMAIL_STATUS_LABELS
from ..meetings.services import find_meeting
from . import dashboard as dashboard_service
from . import exports, participants, services
from .forms import (
    AccessForm,
    DecisionForm,
    DetailsForm,
    OrganizerDetailsForm,
    ParticipantsListForm,
    PublishParticipantsListForm,
    RegistrationForm,
    RegistrationSearchForm,
    organization_choices,
)
from .models import ROLE_LABELS, STATUS_LABELS, RegistrationStatus

bp = Blueprint("registration", __name__)
manage_bp = manage_blueprint("registration", __name__, "/meetings/<slug>/registrations")

PER_PAGE = 50


# Public pages ----------------------------------------------------------------------------------


@bp.after_request
def keep_private(response):
    # Personal links and the details shown with them stay out of caches and search engines.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.context_processor
@manage_bp.context_processor
def upload_limits():
    return {"credentials_max_size": file_size_text(current_app.config["CREDENTIALS_MAX_BYTES"])}


def _public_meeting_or_404(slug):
    meeting = find_meeting(slug)
    if meeting is None or not meeting.is_public:
        abort(404)
    return meeting


def _invitation_or_404(meeting, token):
    invitation = invitation_by_token(token)
    if invitation is None or invitation.meeting_id != meeting.id:
        abort(404)
    return invitation


@bp.route("/meetings/<slug>/register", methods=["GET", "POST"])
def register(slug):
    meeting = _public_meeting_or_404(slug)
    invitation_token = request.args.get("invitation") or None
    invitation = _invitation_or_404(meeting, invitation_token) if invitation_token else None
    language = get_locale()
    closed_message = services.registration_closed_message(meeting)
    refusal = None
    already_registered = False
    access_email = None
    status = 200
    if request.method == "POST":
        status = 422
        if closed_message:
            flash(closed_message, "error")
        else:
            # The service checks every field (the CSRF token is checked before the view): the form
            # is made only to show the page, with a refusal next to its fields and what was sent.
            try:
                registration, token = services.register(
                    meeting,
                    RegistrationForm.details(request.form, meeting, language),
                    invitation=invitation,
                    credentials=request.files.get("credentials"),
                )
            except services.AlreadyRegistered as error:
                refusal, already_registered = error, True
                access_email = (request.form.get("email") or "").strip()
            except DomainError as error:
                refusal = error
            else:
                message = _registered_message(registration)  # before the commit expires the registration
                db.session.commit()
                flash(message, "success")
                return redirect(url_for(".personal", token=token))
    form = RegistrationForm(meeting, (), language)
    if refusal is not None:
        show_refusal(form, refusal)
    # The directory is read only to show the form (this keeps a burst of registrations cheap).
    if not invitation and not closed_message:
        form.organization.choices = organization_choices(services.registration_form_organizations(), language)
    access_form = AccessForm(formdata=None)  # "email me my link", for those already registered
    access_form.email.data = access_email
    return render_template(
        "registration/register.html",
        meeting=meeting,
        form=form,
        access_form=access_form,
        invitation=invitation,
        invitation_token=invitation_token,
        organization_name=invitation.organization.name(language) if invitation else None,
        closed_message=closed_message,
        already_registered=already_registered,
    ), status


def _registered_message(registration):
    if registration.status == RegistrationStatus.CONFIRMED:
        return _("Thank you: your registration is confirmed. We have emailed you this page's link.")
    if registration.status == RegistrationStatus.WAITLISTED:
        return _("Thank you: you are on the waiting list. We have emailed you this page's link.")
    return _("Thank you: your registration has been received. We have emailed you this page's link.")


@bp.post("/meetings/<slug>/access")
def request_link(slug):
    meeting = _public_meeting_or_404(slug)
    form = AccessForm()
    if form.validate_on_submit():
        services.send_link(meeting, form.email.data)
        db.session.commit()
        flash(
            _(
                "If this address is registered for the meeting, we have sent the personal link to it. "
                "It should arrive within a few minutes; check your spam folder too."
            ),
            "info",
        )
    else:
        flash(_("Give the email address you registered with."), "error")
    return redirect(url_for(".register", slug=meeting.slug, _anchor="access"))


def _registration_or_404(token):
    registration = services.registration_by_token(token)
    if registration is None:
        abort(404)
    return registration


@bp.route("/r/<token>", methods=["GET", "POST"])
def personal(token):
    registration = _registration_or_404(token)
    services.open_participant_session(registration)
    can_change = services.can_change(registration)
    status = 200
    if request.method == "POST":
        form = DetailsForm(registration.meeting)
        status = 422
        if not can_change:
            flash(_("Your registration can no longer be changed online. Please write to the Secretariat."), "error")
        elif form.validate_on_submit():
            try:
                changes = services.update_details(registration, form.values(), credentials=form.credentials.data)
            except DomainError as error:
                show_refusal(form, error)
            else:
                db.session.commit()
                flash(_("Your changes have been saved.") if changes else _("Nothing was changed."), "success")
                return redirect(url_for(".personal", token=token))
    else:
        form = DetailsForm.for_registration(registration)
    return render_template(
        "registration/personal.html",
        registration=registration,
        meeting=registration.meeting,
        token=token,
        form=form,
        position=services.waitlist_position(registration),
        can_change=can_change,
        can_cancel=services.can_cancel(registration),
        deadline=services.changes_deadline(registration.meeting),
        delegation=registration.delegation_name(get_locale()),
        document_emails_form=DocumentEmailsForm(
            formdata=None, document_emails=not registration.document_emails_opt_out
        ),
    ), status


@bp.post("/r/<token>/document-emails")
def document_emails(token):
    """The participant turns the emails about new documents on or off."""
    registration = _registration_or_404(token)
    form = DocumentEmailsForm()
    if form.validate_on_submit():
        wanted = form.document_emails.data
        if document_distribution.set_document_emails(registration, wanted):
            db.session.commit()
        if wanted:
            flash(_("You will receive an email when new documents are published."), "success")
        else:
            flash(_("You will no longer receive emails about new documents."), "success")
    else:
        flash(_("Your choice could not be saved. Please try again."), "error")
    return redirect(url_for(".personal", token=token, _anchor="document-emails"))


@bp.route("/r/<token>/cancel", methods=["GET", "POST"])
def cancel(token):
    registration = _registration_or_404(token)
    if request.method == "POST":
        try:
            services.cancel_own(registration)
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Your registration has been cancelled. We have sent you a confirmation by email."), "success")
        return redirect(url_for(".personal", token=token))
    if not services.can_cancel(registration):
        return redirect(url_for(".personal", token=token))
    return render_template(
        "registration/cancel.html", registration=registration, meeting=registration.meeting, token=token
    )


# Organizers ------------------------------------------------------------------------------------


def _meeting_or_404(slug):
    meeting = find_meeting(slug)
    if meeting is None:
        abort(404)
    return meeting


def _list_arguments(args):
    names = ("q", "status", "kind", "organization", "role", "page")
    return {name: args[name] for name in names if args.get(name)}


def _filters(search):
    """The list's filters from its search form (read from the query string); unknown values ignored."""
    organization = request.args.get("organization", "")
    return services.RegistrationFilters(
        status=search.status.data if search.status.data in STATUS_LABELS else "",
        kind=search.kind.data if search.kind.data in KIND_LABELS else "",
        organization_id=record_id(organization),
        role=search.role.data if search.role.data in ROLE_LABELS else "",
        search=(search.q.data or "")[:200],
    )


@manage_bp.get("/")
def list_registrations(slug):
    meeting = _meeting_or_404(slug)
    language = get_locale()
    search = RegistrationSearchForm(request.args)
    search.set_organizations(services.registered_organizations(meeting), language)
    filters = _filters(search)
    page = services.registrations_page(meeting, filters, page=request.args.get("page", 1, type=int), per_page=PER_PAGE)
    arguments = _list_arguments(request.args)
    arguments.pop("page", None)
    return render_template(
        "registration/manage_list.html",
        meeting=meeting,
        search=search,
        page=page,
        filters=arguments,
        counts=services.counts_by_status(meeting),
        seats_taken=services.seats_taken(meeting),
        positions=services.waitlist_positions(meeting),
        status_labels=STATUS_LABELS,
        language=language,
        decision_form=DecisionForm(formdata=None),
    )


def _back_to_list(meeting):
    fallback = url_for(".list_registrations", slug=meeting.slug)
    return redirect(safe_next(request.form.get("next"), fallback))


def _flash_result(result, action):
    done = len(result.done)
    if done:
        messages = {
            "confirm": ngettext("%(num)d registration confirmed.", "%(num)d registrations confirmed.", done),
            "promote": ngettext(
                "%(num)d registration moved off the waiting list.",
                "%(num)d registrations moved off the waiting list.",
                done,
            ),
            "reject": ngettext("%(num)d registration rejected.", "%(num)d registrations rejected.", done),
            "cancel": ngettext("%(num)d registration cancelled.", "%(num)d registrations cancelled.", done),
            "check_in": ngettext("%(num)d participant checked in.", "%(num)d participants checked in.", done),
        }
        emailed = "" if action == "check_in" else " " + _("Each registrant has been emailed.")
        flash(messages[action] + emailed, "success")
    for registration, message in result.refused:
        flash(f"{registration.full_name}: {message}", "error")
    if result.promoted:
        flash(
            ngettext(
                "A place became free: %(names)s moved off the waiting list and has been emailed.",
                "Places became free: %(names)s moved off the waiting list and have been emailed.",
                len(result.promoted),
                names=", ".join(registration.full_name for registration in result.promoted),
            ),
            "info",
        )


@manage_bp.post("/bulk")
def bulk(slug):
    meeting = _meeting_or_404(slug)
    action = request.form.get("action", "")
    ids = record_ids(request.form.getlist("ids"))
    form = DecisionForm()
    if not ids:
        flash(_("Tick the registrations first."), "error")
        return _back_to_list(meeting)
    if not form.validate_on_submit():
        flash(" ".join(form.reason.errors), "error")
        return _back_to_list(meeting)
    try:
        result = services.decide(meeting, ids, action, form.reason.data)
    except DomainError as error:
        flash(error.message, "error")
        return _back_to_list(meeting)
    db.session.commit()
    _flash_result(result, action)
    return _back_to_list(meeting)


def _render_detail(meeting, registration, decision_form, status=200):
    return render_template(
        "registration/manage_detail.html",
        meeting=meeting,
        registration=registration,
        position=services.waitlist_position(registration),
        emails=services.registration_emails(registration),
        actions=[action for action, statuses in services.ACTIONS.items() if registration.status in statuses],
        action_labels=services.ACTION_LABELS,
        decision_form=decision_form,
        language=get_locale(),
        kind_labels=KIND_LABELS,
        accreditation_labels=ACCREDITATION_LABELS,
        email_status_labels=EMAIL_STATUS_LABELS,
    ), status


@manage_bp.get("/<int:registration_id>")
def show_registration(slug, registration_id):
    meeting = _meeting_or_404(slug)
    registration = services.get_registration(meeting, registration_id)
    return _render_detail(meeting, registration, DecisionForm(formdata=None))


@manage_bp.post("/<int:registration_id>/<action>")
def decide(slug, registration_id, action):
    meeting = _meeting_or_404(slug)
    registration = services.get_registration(meeting, registration_id)
    if action not in services.ACTIONS:
        abort(404)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render_detail(meeting, registration, form, 422)
    try:
        result = services.decide(meeting, [registration.id], action, form.reason.data)
    except DomainError as error:
        show_refusal(form, error)
        return _render_detail(meeting, registration, form, 422)
    db.session.commit()
    _flash_result(result, action)
    return redirect(url_for(".show_registration", slug=meeting.slug, registration_id=registration.id))


@manage_bp.route("/<int:registration_id>/edit", methods=["GET", "POST"])
def edit_registration(slug, registration_id):
    meeting = _meeting_or_404(slug)
    registration = services.get_registration(meeting, registration_id)
    form = (
        OrganizerDetailsForm(meeting)
        if request.method == "POST"
        else OrganizerDetailsForm.for_registration(registration)
    )
    if form.validate_on_submit():
        try:
            services.update_details(registration, form.values(), credentials=form.credentials.data, by_organizer=True)
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The registration of %(name)s has been saved.", name=registration.full_name), "success")
            return redirect(url_for(".show_registration", slug=meeting.slug, registration_id=registration.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "registration/manage_edit.html", meeting=meeting, registration=registration, form=form
    ), status


@manage_bp.get("/<int:registration_id>/credentials")
def credentials(slug, registration_id):
    meeting = _meeting_or_404(slug)
    registration = services.get_registration(meeting, registration_id)
    if not registration.has_credentials:
        abort(404)
    path = path_for(registration.credentials_key)
    if not path.is_file():
        abort(404)
    return send_file(
        path,
        mimetype=registration.credentials_content_type,
        as_attachment=True,
        download_name=registration.credentials_name,
        conditional=True,
        etag=registration.credentials_sha256,
        max_age=0,
    )


# Organizers: exports, dashboard, list of participants -------------------------------------------


@manage_bp.get("/export.csv")
def export_csv(slug):
    meeting = _meeting_or_404(slug)
    filters = _filters(RegistrationSearchForm(request.args))
    filename = exports.export_filename(meeting, "csv", meeting.local(utcnow()).date())
    return Response(
        stream_with_context(exports.csv_chunks(meeting, filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@manage_bp.get("/export.xlsx")
def export_xlsx(slug):
    meeting = _meeting_or_404(slug)
    filters = _filters(RegistrationSearchForm(request.args))
    return send_file(
        BytesIO(exports.xlsx_bytes(meeting, filters)),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=exports.export_filename(meeting, "xlsx", meeting.local(utcnow()).date()),
        max_age=0,
    )


@manage_bp.get("/dashboard")
def dashboard(slug):
    meeting = _meeting_or_404(slug)
    return render_template(
        "registration/manage_dashboard.html", meeting=meeting, dashboard=dashboard_service.dashboard(meeting)
    )


def _list_form(meeting):
    language = get_locale()
    data = {"lang": language} if language in meeting.language_codes else {}
    return ParticipantsListForm(meeting, request.args or None, data=data)


@manage_bp.get("/participants")
def list_of_participants(slug):
    meeting = _meeting_or_404(slug)
    form = _list_form(meeting)
    listing = participants.list_of_participants(meeting, form.lang.data, **form.choices())
    return render_template(
        "registration/manage_participants.html",
        meeting=meeting,
        form=form,
        listing=listing,
        publish_form=PublishParticipantsListForm(
            formdata=None, edition="final" if meeting.participants_list_final else "provisional"
        ),
        published=participants.is_published(meeting),
    )


def _pdf_response(meeting, listing):
    return send_file(
        BytesIO(participants.render_pdf(listing)),
        mimetype="application/pdf",
        download_name=participants.pdf_filename(meeting, listing),
        max_age=0,
    )


@manage_bp.get("/participants.pdf")
def list_of_participants_pdf(slug):
    meeting = _meeting_or_404(slug)
    form = _list_form(meeting)
    return _pdf_response(meeting, participants.list_of_participants(meeting, form.lang.data, **form.choices()))


@manage_bp.post("/participants/publish")
def publish_list_of_participants(slug):
    meeting = _meeting_or_404(slug)
    form = PublishParticipantsListForm()
    if not form.validate_on_submit():
        flash(_("Choose whether to publish the provisional or the final list."), "error")
        return redirect(url_for(".list_of_participants", slug=meeting.slug))
    participants.publish(meeting, final=form.edition.data == "final")
    db.session.commit()
    if meeting.participants_list_final:
        message = _("The final list of participants is published on the meeting's page.")
    else:
        message = _("The provisional list of participants is published on the meeting's page.")
    flash(message, "success")
    return redirect(url_for(".list_of_participants", slug=meeting.slug))


@manage_bp.post("/participants/unpublish")
def unpublish_list_of_participants(slug):
    meeting = _meeting_or_404(slug)
    try:
        participants.unpublish(meeting)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The list of participants is no longer public."), "success")
    return redirect(url_for(".list_of_participants", slug=meeting.slug))


# The public list of participants ---------------------------------------------------------------


def _published_list_or_404(slug):
    meeting = _public_meeting_or_404(slug)
    if not participants.is_published(meeting):
        abort(404)
    requested = request.args.get("lang", "")
    codes = meeting.language_codes or [current_app.config["BABEL_DEFAULT_LOCALE"]]
    page_language = get_locale()
    language = requested if requested in codes else page_language if page_language in codes else codes[0]
    listing = participants.list_of_participants(meeting, language, public=True, final=meeting.participants_list_final)
    return meeting, listing


@bp.get("/meetings/<slug>/participants")
def public_list_of_participants(slug):
    meeting, listing = _published_list_or_404(slug)
    return render_template("registration/participants.html", meeting=meeting, listing=listing)


@bp.get("/meetings/<slug>/participants.pdf")
def public_list_of_participants_pdf(slug):
    meeting, listing = _published_list_or_404(slug)
    return _pdf_response(meeting, listing)
