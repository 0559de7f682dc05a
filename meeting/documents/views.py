"""Downloads of a meeting's documents, one file or all of a language as a ZIP (public, with the
access check), and under /manage the organizers' document list, document pages and uploads."""

from unicodedata import normalize
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from zipstream import ZIP_STORED, ZipStream

from ..core.errors import DomainError, NotFound
from ..core.forms import show_refusal
from ..core.i18n import get_locale
from ..core.manage import manage_blueprint
from ..core.storage import path_for
from ..extensions import db
from ..meetings import services as meeting_services
from . import distribution, participants_list, services
from .forms import DocumentForm, ListOfParticipantsForm, NotificationForm, NotificationPreviewForm, UploadForm

bp = Blueprint("documents", __name__)
manage_bp = manage_blueprint("documents", __name__)

REGISTER_ENDPOINT = "registration.register"


def _meeting_or_404(slug):
    meeting = meeting_services.find_meeting(slug)
    if meeting is None:
        abort(404)
    return meeting


def _document_or_404(meeting, document_id, **options):
    document = services.find_document(meeting, document_id, **options)
    if document is None:
        abort(404)
    return document


def _attachment(response, name):
    """Content-Disposition as `send_file` writes it: an ASCII `filename`, and `filename*` in UTF-8
    when the name needs it."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        simple = normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        quoted = quote(name, safe="!#$&+-.^_`|~")
        response.headers.set("Content-Disposition", "attachment", filename=simple, **{"filename*": f"UTF-8''{quoted}"})
    else:
        response.headers.set("Content-Disposition", "attachment", filename=name)
    return response


def _participants_only_page(meeting, refusal):
    response = make_response(
        render_template(
            "documents/participants_only.html",
            meeting=meeting,
            message=refusal.message,
            can_ask_for_link=REGISTER_ENDPOINT in current_app.view_functions,
        ),
        403,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _count(file_ids):
    """Count the downloads: in memory, written within a second (see `services.DownloadCounter`)."""
    services.download_counter().add(file_ids)


# Public ----------------------------------------------------------------------------------------


@bp.get("/meetings/<slug>/documents/<int:document_id>/<lang>")
def download(slug, document_id, lang):
    organizer = services.visitor_is_organizer()
    try:
        file = services.file_for_download(slug, document_id, lang, organizer=organizer)
    except services.ParticipantsOnly as refusal:
        return _participants_only_page(refusal.meeting, refusal)
    except NotFound:
        abort(404)
    prefix = current_app.config.get("X_ACCEL_REDIRECT")
    if prefix:
        # The front web server sends the bytes (and answers Range and conditional requests itself).
        response = _attachment(current_app.response_class(mimetype=file.content_type), file.name)
        response.headers["X-Accel-Redirect"] = f"{prefix.rstrip('/')}/{file.storage_key}"
        # Its ETag is its own, so any revalidation, like any Range, is taken as no new download.
        whole_file = request.range is None and not request.if_none_match and request.if_modified_since is None
    else:
        path = path_for(file.storage_key)
        if not path.is_file():
            current_app.logger.error("stored file missing for document file %s: %s", file.file_id, path)
            abort(404)
        response = send_file(
            path,
            mimetype=file.content_type,
            as_attachment=True,
            download_name=file.name,
            conditional=True,
            etag=file.sha256,
            last_modified=file.uploaded_at,
        )
        whole_file = response.status_code == 200
    if file.is_restricted:
        response.cache_control.private = True
    # A download is counted once: not the 304 of a revalidation, nor the 206 parts of a resumed
    # download or of a PDF viewer reading page by page, nor a HEAD; the Secretariat's own neither.
    if whole_file and request.method == "GET" and not organizer:
        _count([file.file_id])
    return response


@bp.get("/meetings/<slug>/documents/bundle/<lang>.zip")
def bundle(slug, lang):
    meeting = _meeting_or_404(slug)
    visitor = services.current_visitor(meeting)
    try:
        entries = services.bundle_entries(meeting, lang, visitor)
    except services.ParticipantsOnly as refusal:
        return _participants_only_page(meeting, refusal)
    except NotFound:
        abort(404)
    # Stored, not compressed: PDF and Office files are compressed already, and the archive's size is
    # then known before it is written (Content-Length). Files are read chunk by chunk as the ZIP
    # file is sent; it is never built in memory.
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    for entry in entries:
        archive.add_path(str(entry.path), entry.name)
    response = current_app.response_class(archive, mimetype="application/zip", direct_passthrough=True)
    response.headers["Content-Length"] = str(len(archive))
    response.last_modified = archive.last_modified
    response.cache_control.no_cache = True
    response.cache_control.private = True
    _attachment(response, services.bundle_name(meeting, lang))
    if request.method == "GET" and not visitor.organizer:
        _count([entry.file_id for entry in entries])
    return response


# Organizers ------------------------------------------------------------------------------------


def _document_page(meeting, document, form, upload_form, status=200):
    notifications = distribution.notifications_of(document)
    return render_template(
        "documents/manage_document.html",
        meeting=meeting,
        document=document,
        form=form,
        upload_form=upload_form,
        accepted_types=services.accepted_types_text(),
        max_size=services.max_size_text(),
        notifications=notifications,
        unannounced=distribution.unannounced_languages(document, notifications),
    ), status


@manage_bp.get("/meetings/<slug>/documents")
def list_documents(slug):
    meeting = _meeting_or_404(slug)
    return render_template(
        "documents/manage_list.html",
        meeting=meeting,
        documents=services.documents_for_organizers(meeting),
        list_form=ListOfParticipantsForm.for_meeting(meeting),
    )


@manage_bp.route("/meetings/<slug>/documents/new", methods=["GET", "POST"])
def new_document(slug):
    meeting = _meeting_or_404(slug)
    form = DocumentForm() if request.method == "POST" else DocumentForm.for_new_document(meeting)
    if form.validate_on_submit():
        try:
            document = services.create_document(meeting, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(
                _("The document %(symbol)s has been added. Upload its language versions.", symbol=document.symbol),
                "success",
            )
            return redirect(url_for(".edit_document", slug=meeting.slug, document_id=document.id))
    status = 422 if request.method == "POST" else 200
    return render_template("documents/manage_new.html", meeting=meeting, form=form), status


@manage_bp.route("/meetings/<slug>/documents/<int:document_id>", methods=["GET", "POST"])
def edit_document(slug, document_id):
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id, with_files=True)
    form = DocumentForm() if request.method == "POST" else DocumentForm.for_document(document)
    if form.validate_on_submit():
        try:
            changes = services.update_document(document, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The document has been saved.") if changes else _("Nothing was changed."), "success")
            return redirect(url_for(".edit_document", slug=meeting.slug, document_id=document.id))
    status = 422 if request.method == "POST" else 200
    return _document_page(meeting, document, form, UploadForm(meeting, formdata=None), status)


@manage_bp.post("/meetings/<slug>/documents/<int:document_id>/files")
def upload_file(slug, document_id):
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id, with_files=True)
    upload_form = UploadForm(meeting)
    if upload_form.validate_on_submit():
        try:
            file = services.upload_file(document, upload_form.language.data, upload_form.file.data)
        except DomainError as error:
            show_refusal(upload_form, error)
        else:
            db.session.commit()
            flash(
                _(
                    "“%(name)s” is now the %(language)s version of %(symbol)s.",
                    name=file.original_name,
                    language=file.language,
                    symbol=document.symbol,
                ),
                "success",
            )
            return redirect(url_for(".edit_document", slug=meeting.slug, document_id=document.id))
    return _document_page(meeting, document, DocumentForm.for_document(document), upload_form, 422)


@manage_bp.post("/meetings/<slug>/documents/<int:document_id>/<any(publish, unpublish):action>")
def change_publication(slug, document_id, action):
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id)
    try:
        if action == "publish":
            services.publish_document(document)
        else:
            services.unpublish_document(document)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        if action == "publish":
            flash(_("The document %(symbol)s is published.", symbol=document.symbol), "success")
        else:
            flash(_("The document %(symbol)s is no longer public.", symbol=document.symbol), "success")
    if request.form.get("back") == "document":
        return redirect(url_for(".edit_document", slug=meeting.slug, document_id=document.id))
    return redirect(url_for(".list_documents", slug=meeting.slug, _anchor=f"document-{document.id}"))


@manage_bp.post("/meetings/<slug>/documents/<int:document_id>/move/<any(up, down):direction>")
def move_document(slug, document_id, direction):
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id)
    try:
        services.move_document(document, direction)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
    return redirect(url_for(".list_documents", slug=meeting.slug, _anchor=f"document-{document.id}"))


@manage_bp.get("/meetings/<slug>/documents/<int:document_id>/files/<int:file_id>")
def download_version(slug, document_id, file_id):
    """Any version, current or replaced, under the name it was uploaded with."""
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id)
    file = services.find_file(document, file_id)
    if file is None:
        abort(404)
    path = path_for(file.storage_key)
    if not path.is_file():
        current_app.logger.error("stored file missing for document file %s: %s", file.id, path)
        abort(404)
    response = send_file(
        path,
        mimetype=file.content_type,
        as_attachment=True,
        download_name=file.original_name,
        conditional=True,
        etag=file.sha256,
        last_modified=file.uploaded_at,
    )
    response.cache_control.private = True
    return response


# Organizers: telling the participants, publishing the list of participants ---------------------


@manage_bp.get("/meetings/<slug>/documents/<int:document_id>/notify")
def notify_participants(slug, document_id):
    """The preview: who would get the email, in which language, and the email itself."""
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id, with_files=True)
    try:
        plan = distribution.plan_notification(document)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".edit_document", slug=meeting.slug, document_id=document.id))
    languages = list(meeting.language_codes)
    languages += [group.language for group in plan.groups if group.language not in languages]
    preview_form = NotificationPreviewForm(languages, request.args, default=str(get_locale()))
    return render_template(
        "documents/manage_notify.html",
        meeting=meeting,
        document=document,
        plan=plan,
        preview_form=preview_form,
        preview=distribution.preview(plan, preview_form.lang.data),
        form=NotificationForm(formdata=None, versions=plan.versions),
        language_label=distribution.language_label,
        new_languages=", ".join(distribution.language_label(code) for code in plan.new_languages),
    )


@manage_bp.post("/meetings/<slug>/documents/<int:document_id>/notify")
def send_notification(slug, document_id):
    meeting = _meeting_or_404(slug)
    document = _document_or_404(meeting, document_id, with_files=True)
    form = NotificationForm()
    back = url_for(".notify_participants", slug=meeting.slug, document_id=document.id)
    if not form.validate_on_submit():
        flash(_("The form could not be read. Check the preview and send again."), "error")
        return redirect(back)
    try:
        notification = distribution.send_notification(
            document, versions=form.versions.data or "", send_again=form.send_again.data
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(back)
    message = ngettext(
        "%(num)d email about %(symbol)s is queued; it is sent within a few minutes.",
        "%(num)d emails about %(symbol)s are queued; they are sent within a few minutes.",
        notification.recipients,
        symbol=document.symbol,
    )
    target = url_for(".edit_document", slug=meeting.slug, document_id=document.id, _anchor="notifications")
    db.session.commit()
    flash(message, "success")
    return redirect(target)


@manage_bp.post("/meetings/<slug>/documents/list-of-participants")
def publish_list_of_participants(slug):
    meeting = _meeting_or_404(slug)
    form = ListOfParticipantsForm(meeting)
    if not form.validate_on_submit():
        flash(_("Choose the languages and the edition of the list."), "error")
        return redirect(url_for(".list_documents", slug=meeting.slug, _anchor="list-of-participants"))
    try:
        document, changed = participants_list.publish_list_of_participants(
            meeting, form.languages.data, final=form.edition.data == "final"
        )
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".list_documents", slug=meeting.slug, _anchor="list-of-participants"))
    if changed:
        message, category = (
            _(
                "The list of participants is published as the document %(symbol)s (%(languages)s). You can now "
                "notify the participants.",
                symbol=document.symbol,
                languages=", ".join(distribution.language_label(code) for code in changed),
            ),
            "success",
        )
    else:
        message, category = (
            _(
                "The list has not changed since %(symbol)s was last stored: its files are kept as they are.",
                symbol=document.symbol,
            ),
            "info",
        )
    target = url_for(".edit_document", slug=meeting.slug, document_id=document.id)
    db.session.commit()
    flash(message, category)
    return redirect(target)
