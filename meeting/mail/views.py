"""The organizers' outbox, overall or for one meeting (`?meeting=<slug>`): counts by status, a
filterable list, one message as its recipient sees it, retry, cancel and bulk retry, and a test email."""

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from wtforms import SelectChoice

from ..core.errors import DomainError
from ..core.i18n import language_name
from ..core.manage import manage_blueprint
from ..core.web import record_ids, safe_next
from ..extensions import db
from ..meetings.models import Meeting
from . import services
from .forms import STATUS_LABELS, OutboxFilterForm, SendTestEmailForm
from .models import OutboxStatus

manage_bp = manage_blueprint("mail", __name__, "/outbox")

# The HTML body of an email is someone else's markup: shown in a sandbox, with no script, no
# remote content (no tracking pixel is fetched) and no form; only our own pages may frame it.
EMAIL_PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'; sandbox"
)


def _meeting_from(value):
    if not value:
        return None
    return db.first_or_404(db.select(Meeting).where(Meeting.slug == value))


def _back_to_list(meeting):
    """To the list as it was filtered when the form was sent."""
    fallback = url_for(".outbox", meeting=meeting.slug if meeting else None)
    return redirect(safe_next(request.form.get("next"), fallback))


@manage_bp.get("/")
def outbox():
    form = OutboxFilterForm(request.args)
    meetings = db.session.scalars(db.select(Meeting).order_by(Meeting.starts_on.desc())).all()
    form.meeting.choices = [SelectChoice("", _("All meetings"))] + [SelectChoice(m.slug, m.title) for m in meetings]
    meeting = _meeting_from(request.args.get("meeting"))
    status = form.status.data if form.status.data in set(OutboxStatus) else None
    search = (form.q.data or "").strip()[:200] or None
    page = services.outbox_page(
        meeting=meeting, status=status, search=search, page=request.args.get("page", 1, type=int)
    )
    return render_template(
        "mail/outbox.html",
        form=form,
        meeting=meeting,
        status=status,
        search=search,
        counts=services.counts_by_status(meeting),
        page=page,
        status_labels=STATUS_LABELS,
        mail_server=services.mail_server_configured(),
    )


@manage_bp.get("/<int:message_id>")
def message(message_id):
    return render_template(
        "mail/message.html",
        message=services.get_message(message_id),
        status_labels=STATUS_LABELS,
        sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
        mail_server=services.mail_server_configured(),
    )


@manage_bp.get("/<int:message_id>/html")
def message_html(message_id):
    response = make_response(services.get_message(message_id).body_html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = EMAIL_PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@manage_bp.post("/<int:message_id>/retry")
def retry(message_id):
    try:
        message = services.retry_message(message_id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".message", message_id=message_id))
    db.session.commit()
    flash(_("The email to %(to)s will be sent again.", to=", ".join(message.recipient_list)), "success")
    return redirect(url_for(".message", message_id=message_id))


@manage_bp.post("/<int:message_id>/cancel")
def cancel(message_id):
    try:
        message = services.cancel_message(message_id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".message", message_id=message_id))
    db.session.commit()
    flash(_("The email to %(to)s has been cancelled.", to=", ".join(message.recipient_list)), "success")
    return redirect(url_for(".message", message_id=message_id))


@manage_bp.post("/retry-failed")
def retry_failed():
    """Bulk retry: every failed email (of the meeting shown), or only the ticked ones."""
    meeting = _meeting_from(request.form.get("meeting"))
    if request.form.get("scope") == "selected":
        ids = record_ids(request.form.getlist("ids"))
        if not ids:
            flash(_("Tick the failed emails to retry first."), "error")
            return _back_to_list(meeting)
    else:
        ids = None
    count = services.retry_failed(meeting=meeting, ids=ids)
    db.session.commit()
    if count:
        flash(
            ngettext("%(num)d failed email will be sent again.", "%(num)d failed emails will be sent again.", count),
            "success",
        )
    else:
        flash(_("There was no failed email to retry."), "info")
    return _back_to_list(meeting)


@manage_bp.route("/test", methods=["GET", "POST"])
def test_email():
    form = SendTestEmailForm()
    form.language.choices = [SelectChoice(code, language_name(code)) for code in current_app.config["LANGUAGES"]]
    if request.method == "GET":
        form.email.data = current_user.email
    elif form.validate_on_submit():
        try:
            message = services.send_test_email(form.email.data, form.language.data)
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            if services.mail_server_configured():
                flash(
                    _("A test email to %(to)s is queued; the delivery worker sends it.", to=message.recipients),
                    "success",
                )
            else:
                flash(_("No mail server is configured: the test email is kept in the outbox and not sent."), "warning")
            return redirect(url_for(".message", message_id=message.id))
    status = 422 if request.method == "POST" else 200
    return render_template("mail/test_email.html", form=form), status
