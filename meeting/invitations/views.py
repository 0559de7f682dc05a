"""The delegation's invitation pages (`/invitations/<token>`, no sign-in: the token is the key) and the
organizers' invitation pages under /manage/meetings/<slug>/invitations."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..core.errors import DomainError
from ..core.forms import show_refusal
from ..core.i18n import get_locale
from ..core.manage import manage_blueprint
from ..core.web import record_ids, safe_next
from ..directory.forms import KIND_LABELS, DirectorySearchForm
from ..directory.services import search_organizations, split_email_lines
from ..extensions import db
from ..mail.forms import STATUS_LABELS as EMAIL_STATUS_LABELS
from ..meetings.services import find_meeting
from . import services
from .forms import DeclineForm, InvitationFilterForm, NewInvitationsForm, ResendForm
from .models import STATUS_LABELS, InvitationStatus

bp = Blueprint("invitations", __name__)
manage_bp = manage_blueprint("invitations", __name__, "/meetings/<slug>/invitations")

# The registration module adds this endpoint; until then, accepting leads to a "registration opens soon" page.
REGISTER_ENDPOINT = "registration.register"
# How many organizations of a directory search the "new invitations" page lists to tick.
CANDIDATES_SHOWN = 200
# How many organizations not invited (inactive, no address) the message after inviting names.
FLASHED_SKIPS = 10


# The delegation's pages ------------------------------------------------------------------------


@bp.after_request
def keep_links_private(response):
    # The address holds the token: no cache or search engine keeps it.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _invitation_or_404(token):
    invitation = services.invitation_by_token(token)
    if invitation is None:
        abort(404)
    return invitation


def _render_invitation(invitation, token, decline_form, status=200):
    return render_template(
        "invitations/show.html",
        invitation=invitation,
        meeting=invitation.meeting,
        organization_name=invitation.organization.name(get_locale()),
        token=token,
        can_answer=services.can_answer(invitation),
        can_register=REGISTER_ENDPOINT in current_app.view_functions,
        decline_form=decline_form,
    ), status


@bp.get("/invitations/<token>")
def show(token):
    invitation = _invitation_or_404(token)
    services.record_view(invitation)
    db.session.commit()
    return _render_invitation(invitation, token, DeclineForm(formdata=None))


@bp.post("/invitations/<token>/accept")
def accept(token):
    invitation = _invitation_or_404(token)
    try:
        services.accept(invitation)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".show", token=token))
    db.session.commit()
    if REGISTER_ENDPOINT in current_app.view_functions:
        return redirect(url_for(REGISTER_ENDPOINT, slug=invitation.meeting.slug, invitation=token))
    return redirect(url_for(".accepted", token=token))


@bp.post("/invitations/<token>/decline")
def decline(token):
    invitation = _invitation_or_404(token)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _render_invitation(invitation, token, form, 422)
    try:
        services.decline(invitation, form.reason.data)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".show", token=token))
    db.session.commit()
    return redirect(url_for(".declined", token=token))


@bp.get("/invitations/<token>/accepted")
def accepted(token):
    invitation = _invitation_or_404(token)
    if invitation.status != InvitationStatus.ACCEPTED:
        return redirect(url_for(".show", token=token))
    return render_template(
        "invitations/accepted.html",
        invitation=invitation,
        meeting=invitation.meeting,
        organization_name=invitation.organization.name(get_locale()),
        token=token,
    )


@bp.get("/invitations/<token>/declined")
def declined(token):
    invitation = _invitation_or_404(token)
    if invitation.status != InvitationStatus.DECLINED:
        return redirect(url_for(".show", token=token))
    return render_template(
        "invitations/declined.html",
        invitation=invitation,
        meeting=invitation.meeting,
        organization_name=invitation.organization.name(get_locale()),
        token=token,
    )


# The organizers' pages -------------------------------------------------------------------------


def _meeting_or_404(slug):
    meeting = find_meeting(slug)
    if meeting is None:
        abort(404)
    return meeting


def _selected_ids():
    return record_ids(request.form.getlist("invitation_ids"))


def _back_to_list(meeting):
    """To the list as it was filtered when the form was sent."""
    return redirect(safe_next(request.form.get("next"), url_for(".list_invitations", slug=meeting.slug)))


@manage_bp.get("/")
def list_invitations(slug):
    meeting = _meeting_or_404(slug)
    filters = InvitationFilterForm(request.args)
    status = filters.status.data if filters.status.data in set(InvitationStatus) else None
    kind = filters.kind.data if filters.kind.data in KIND_LABELS else None
    page = services.invitations_page(meeting, status=status, kind=kind, page=request.args.get("page", 1, type=int))
    return render_template(
        "invitations/manage_list.html",
        meeting=meeting,
        filters=filters,
        status=status,
        kind=kind,
        page=page,
        counts=services.counts_by_status(meeting),
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    )


def _candidates(search, ticked_ids):
    """The organizations to tick: those the directory search finds (active ones, up to
    CANDIDATES_SHOWN), after those already ticked that the search does not show."""
    if not (search.q.data or search.kind.data):
        found = None
        shown = []
    else:
        found = search_organizations(
            search.q.data or "", kind=search.kind.data or "", status="active", per_page=CANDIDATES_SHOWN
        )
        shown = list(found.items)
    missing = set(ticked_ids) - {organization.id for organization in shown}
    try:
        ticked = services.select_organizations(ids=sorted(missing)) if missing else []
    except DomainError:  # a number that is not in the directory: the form shows the error already
        ticked = []
    return ticked + shown, found


@manage_bp.route("/new", methods=["GET", "POST"])
def new_invitations(slug):
    meeting = _meeting_or_404(slug)
    form = NewInvitationsForm()
    if request.method == "GET":
        search = DirectorySearchForm(request.args)
        form.q.data, form.search_kind.data = search.q.data or "", search.kind.data or ""
        if search.q.data or search.kind.data:
            form.scope.data = "selected"
    else:
        search = DirectorySearchForm(data={"q": form.q.data or "", "kind": form.search_kind.data or ""})
    # Only the two explicit buttons write; anything else (Enter in a field submits the first
    # button, "Preview") only shows what would happen.
    action = request.form.get("action")
    plan = email = None
    status = 200
    if form.validate_on_submit():
        try:
            organizations = services.select_organizations(**form.selection())
            if action in ("send", "draft"):
                result = services.invite(
                    meeting, organizations, personal_message=form.message.data, send=action == "send"
                )
            else:
                plan = services.plan_invitations(meeting, organizations)
                if plan.new:
                    email = services.preview(meeting, plan.new[0], form.message.data)
        except DomainError as error:
            show_refusal(form, error)
            status = 422
        else:
            if action in ("send", "draft"):
                db.session.commit()
                _flash_invite_result(result, sent=action == "send")
                return redirect(url_for(".list_invitations", slug=meeting.slug))
    elif request.method == "POST":
        status = 422
    candidates, found = _candidates(search, form.organization_ids.data or [])
    return render_template(
        "invitations/manage_new.html",
        meeting=meeting,
        form=form,
        search=search,
        candidates=candidates,
        found=found,
        ticked=set(form.organization_ids.data or []),
        plan=plan,
        email=email,
        kind_labels=KIND_LABELS,
        skip_reason_label=services.skip_reason_label,
    ), status


def _flash_invite_result(result, sent):
    if sent:
        message = ngettext(
            "%(num)d invitation is queued for sending.", "%(num)d invitations are queued for sending.", result.created
        )
    else:
        message = ngettext(
            "%(num)d draft invitation was saved.", "%(num)d draft invitations were saved.", result.created
        )
    details = []
    if result.already_invited:
        details.append(
            ngettext(
                "%(num)d organization was already invited and got no new email.",
                "%(num)d organizations were already invited and got no new email.",
                result.already_invited,
            )
        )
    if result.skipped:
        names = [
            f"{organization.name_en} ({services.skip_reason_label(reason)})"
            for organization, reason in result.skipped[:FLASHED_SKIPS]
        ]
        if len(result.skipped) > FLASHED_SKIPS:
            names.append(_("and %(num)d more", num=len(result.skipped) - FLASHED_SKIPS))
        details.append(_("Not invited: %(list)s.", list="; ".join(names)))
    flash(" ".join([message, *details]), "success" if result.created else "warning")


@manage_bp.post("/remind")
def remind(slug):
    meeting = _meeting_or_404(slug)
    ids = _selected_ids()
    if not ids:
        flash(_("Tick the invitations to remind first."), "error")
        return _back_to_list(meeting)
    try:
        reminded, skipped = services.remind(meeting, ids)
    except DomainError as error:
        flash(error.message, "error")
        return _back_to_list(meeting)
    db.session.commit()
    message = ngettext("%(num)d reminder is queued for sending.", "%(num)d reminders are queued for sending.", reminded)
    if skipped:
        message += " " + ngettext(
            "%(num)d ticked invitation was skipped: it is answered, revoked or not sent yet.",
            "%(num)d ticked invitations were skipped: they are answered, revoked or not sent yet.",
            skipped,
        )
    flash(message, "success" if reminded else "warning")
    return _back_to_list(meeting)


@manage_bp.post("/send-drafts")
def send_drafts(slug):
    meeting = _meeting_or_404(slug)
    ids = _selected_ids()
    if not ids:
        flash(_("Tick the draft invitations to send first."), "error")
        return _back_to_list(meeting)
    try:
        sent, skipped = services.send_drafts(meeting, ids)
    except DomainError as error:
        flash(error.message, "error")
        return _back_to_list(meeting)
    db.session.commit()
    message = ngettext("%(num)d invitation is queued for sending.", "%(num)d invitations are queued for sending.", sent)
    if skipped:
        message += " " + ngettext(
            "%(num)d ticked invitation was skipped: it is no draft, or its organization has no address.",
            "%(num)d ticked invitations were skipped: they are no drafts, or their organization has no address.",
            skipped,
        )
    flash(message, "success" if sent else "warning")
    return _back_to_list(meeting)


def _render_detail(meeting, invitation, resend_form, status=200):
    return render_template(
        "invitations/manage_invitation.html",
        meeting=meeting,
        invitation=invitation,
        emails=services.invitation_emails(invitation),
        resend_form=resend_form,
        email_status_labels=EMAIL_STATUS_LABELS,
        kind_labels=KIND_LABELS,
    ), status


@manage_bp.get("/<int:invitation_id>")
def show_invitation(slug, invitation_id):
    meeting = _meeting_or_404(slug)
    invitation = services.get_invitation(meeting, invitation_id)
    form = ResendForm(data={"recipients": invitation.recipients})
    return _render_detail(meeting, invitation, form)


@manage_bp.post("/<int:invitation_id>/resend")
def resend(slug, invitation_id):
    meeting = _meeting_or_404(slug)
    invitation = services.get_invitation(meeting, invitation_id)
    form = ResendForm()
    if form.validate_on_submit():
        try:
            services.resend(invitation, split_email_lines(form.recipients.data), new_link=form.new_link.data)
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(
                _("The invitation is queued for sending to %(to)s.", to=", ".join(invitation.recipient_list)), "success"
            )
            return redirect(url_for(".show_invitation", slug=meeting.slug, invitation_id=invitation.id))
    return _render_detail(meeting, invitation, form, 422)


@manage_bp.post("/<int:invitation_id>/revoke")
def revoke(slug, invitation_id):
    meeting = _meeting_or_404(slug)
    invitation = services.revoke(services.get_invitation(meeting, invitation_id))
    db.session.commit()
    flash(
        _("The invitation of %(name)s is revoked: its link no longer works.", name=invitation.organization.name_en),
        "success",
    )
    return redirect(url_for(".show_invitation", slug=meeting.slug, invitation_id=invitation.id))
