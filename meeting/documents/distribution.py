"""Telling the participants about documents: when a document is published, or given a new language
version, an organizer previews and sends one email to every confirmed participant who did not turn
these emails off on their personal page, in the participant's language, with the link to the
version in that language (or, when there is none, in the meeting's first language that has one,
which the email says).

Each round is a `DocumentNotification` that records the language versions it announced. A round
that would announce exactly the versions already announced (a second click, a reload of the form)
is refused unless the organizer asks to send it again, and the database's unique constraint lets
only one of two simultaneous clicks through. The emails are rendered once per language and written
in one multi-row INSERT (`mail.services.queue_emails`), so a few hundred participants take one request.

Nothing here commits."""

from collections import Counter
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only

from ..core.audit import current_actor, record
from ..core.errors import Conflict, DomainError
from ..core.i18n import get_locale, language_name
from ..core.web import localdatetime
from ..extensions import db
from ..mail.services import OutgoingEmail, external_url, queue_emails, render_email
from ..registration.models import Registration, RegistrationStatus
from ..registration.services import _registrant, personal_token
from .models import DocumentNotification, NotificationOccasion

TEMPLATE = "document_notification"
CAUSE = "document.notification"


@dataclass(frozen=True)
class LanguageGroup:
    """The recipients who prefer one language, and the version their link leads to."""

    language: str
    count: int
    file_language: str

    @property
    def fallback(self) -> bool:
        return self.file_language != self.language


@dataclass(frozen=True)
class NotificationPlan:
    """What a notification of a document would say and to whom, as the organizer previews it."""

    document: object
    occasion: NotificationOccasion
    # The current versions, as DocumentNotification.versions keeps them: "en:12,fr:13".
    versions: str
    # Languages announced as new or revised (empty when the whole document is new).
    new_languages: list[str]
    groups: list[LanguageGroup]
    opted_out: int
    # The last notification of the document, and the last one of these very versions (a repeat).
    last: DocumentNotification | None = None
    repeats: DocumentNotification | None = None
    previous_repeat_number: int | None = None

    @property
    def recipient_count(self) -> int:
        return sum(group.count for group in self.groups)


def _versions_key(document) -> str:
    return ",".join(f"{file.language}:{file.id}" for file in sorted(document.current_files, key=lambda f: f.language))


def _announced(versions: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in versions.split(",") if ":" in part)


def _link_language(document, language) -> str:
    """The version a participant who prefers `language` is sent to: theirs, else the first of the
    meeting's languages that the document has."""
    if document.current_file(language) is not None:
        return language
    return document.files_in(document.meeting.language_codes)[0].language


def _email_language(language) -> str:
    """The language the email is written in (queue_emails writes any other in the default one)."""
    config = current_app.config
    return language if language in config["LANGUAGES"] else config["BABEL_DEFAULT_LOCALE"]


def _recipients_condition(meeting):
    return (Registration.meeting_id == meeting.id, Registration.status == RegistrationStatus.CONFIRMED)


def _refuse_unless_announceable(document) -> None:
    meeting = document.meeting
    if not meeting.is_public:
        raise DomainError(_("Participants can be notified only once the meeting's page is public."))
    if not document.is_published:
        raise DomainError(
            _("Publish the document %(symbol)s before notifying the participants.", symbol=document.symbol)
        )
    if not document.current_files:
        raise DomainError(_("The document %(symbol)s has no file to announce.", symbol=document.symbol))


def notifications_of(document) -> list[DocumentNotification]:
    """The notifications of a document, the latest first, with who sent them."""
    return db.session.scalars(
        db.select(DocumentNotification)
        .where(DocumentNotification.document_id == document.id)
        .order_by(DocumentNotification.sent_at.desc(), DocumentNotification.id.desc())
        .options(joinedload(DocumentNotification.sent_by))
    ).all()


def unannounced_languages(document, notifications) -> list[str]:
    """The current versions that no notification announced yet (every one if none was sent)."""
    announced = _announced(notifications[0].versions) if notifications else {}
    return [
        file.language
        for file in document.files_in(document.meeting.language_codes)
        if announced.get(file.language) != str(file.id)
    ]


def plan_notification(document) -> NotificationPlan:
    """Who would be emailed about `document` now, in which language, and what is new since the last
    notification. Two queries: the counts by language, the notifications of the document."""
    _refuse_unless_announceable(document)
    meeting = document.meeting
    rows = db.session.execute(
        db.select(Registration.preferred_language, Registration.document_emails_opt_out, func.count())
        .where(*_recipients_condition(meeting))
        .group_by(Registration.preferred_language, Registration.document_emails_opt_out)
    ).all()
    counts = Counter()
    opted_out = 0
    for language, opt_out, count in rows:
        if opt_out:
            opted_out += count
        else:
            counts[language] += count
    order = {code: index for index, code in enumerate(meeting.language_codes)}
    groups = [
        LanguageGroup(language=language, count=count, file_language=_link_language(document, language))
        for language, count in sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    ]

    versions = _versions_key(document)
    notifications = notifications_of(document)
    last = notifications[0] if notifications else None
    same = [notification for notification in notifications if notification.versions == versions]
    repeats = same[0] if same else None
    if repeats is not None:
        occasion, new_languages = NotificationOccasion(repeats.occasion), repeats.language_codes
    elif last is None:
        occasion, new_languages = NotificationOccasion.PUBLISHED, []
    else:
        occasion, new_languages = NotificationOccasion.NEW_VERSIONS, unannounced_languages(document, notifications)
    return NotificationPlan(
        document=document,
        occasion=occasion,
        versions=versions,
        new_languages=new_languages,
        groups=groups,
        opted_out=opted_out,
        last=last,
        repeats=repeats,
        previous_repeat_number=max((n.repeat_number for n in same), default=None),
    )


def _subject(plan):
    document = plan.document
    # The meeting's title in the recipient's language: the subject is made under their language.
    title = document.meeting.lazy_localized("title")
    if plan.occasion == NotificationOccasion.PUBLISHED:
        return _l("New document for the %(title)s: %(symbol)s", title=title, symbol=document.symbol)
    return _l("New language version of %(symbol)s for the %(title)s", title=title, symbol=document.symbol)


def _language_context(plan, language) -> dict:
    """What the emails to the participants who prefer `language` share."""
    document = plan.document
    meeting = document.meeting
    in_language = _email_language(language)
    file_language = _link_language(document, language)

    def link(code):
        return external_url("documents.download", slug=meeting.slug, document_id=document.id, lang=code)

    return {
        "document": document,
        "document_title": document.localized("title", in_language),
        "meeting_title": meeting.localized("title", in_language),
        "occasion": str(plan.occasion),
        # Inside sentences: "(anglais, espagnol)", "n'est pas disponible en arabe".
        "new_languages": [language_name(code, in_language, in_sentence=True) for code in plan.new_languages],
        "link": link(file_language),
        "link_language": language_name(file_language, in_language, in_sentence=True),
        "wanted_language": language_name(language, in_language, in_sentence=True),
        "fallback": file_language != language,
        "other_versions": [
            (language_name(file.language, in_language), link(file.language))
            for file in document.files_in(meeting.language_codes)
            if file.language != file_language
        ],
        "restricted": document.is_restricted,
        "meeting_link": external_url("meetings.show", slug=meeting.slug, _anchor="documents"),
    }


@dataclass(frozen=True)
class Preview:
    language: str
    subject: str
    text: str


def preview(plan, language) -> Preview:
    """The email as the participants who prefer `language` would get it, their name and personal
    link shown as placeholders."""
    in_language = _email_language(language)
    with force_locale(in_language):
        subject = str(_subject(plan))
        context = {
            **_language_context(plan, language),
            "language": in_language,
            "subject": subject,
            "meeting": plan.document.meeting,
            "recipient_name": _("[name of the participant]"),
            "personal_link": _("[personal link of the participant]"),
        }
    text, _html = render_email(TEMPLATE, in_language, context)
    return Preview(language=language, subject=subject, text=text)


def _recipients(meeting) -> list[Registration]:
    return db.session.scalars(
        db.select(Registration)
        .where(*_recipients_condition(meeting), Registration.document_emails_opt_out.is_(False))
        .options(
            load_only(
                Registration.id,
                Registration.meeting_id,
                Registration.given_name,
                Registration.family_name,
                Registration.email,
                Registration.preferred_language,
                Registration.token_nonce,
                Registration.token_hash,
            )
        )
        .order_by(Registration.id)
    ).all()


def _moment(meeting, moment) -> str:
    return f"{localdatetime(moment, meeting.timezone, 'medium')} ({meeting.timezone})"


def send_notification(document, *, versions: str, send_again: bool = False) -> DocumentNotification:
    """Queue the emails about `document` to its meeting's confirmed participants who did not opt
    out. `versions` is the set of versions the organizer previewed: if the document changed since,
    nothing is sent. Announcing the versions already announced needs `send_again`."""
    plan = plan_notification(document)
    meeting = document.meeting
    if versions != plan.versions:
        raise Conflict(
            _(
                "The language versions of %(symbol)s changed since the preview. Check the preview again.",
                symbol=document.symbol,
            )
        )
    if plan.repeats is not None and not send_again:
        raise Conflict(
            _(
                "These versions of %(symbol)s were already announced to the participants on %(moment)s. "
                "To send the email again anyway, tick “Send it again”.",
                symbol=document.symbol,
                moment=_moment(meeting, plan.repeats.sent_at),
            )
        )
    recipients = _recipients(meeting)
    if not recipients:
        raise DomainError(_("No confirmed participant would receive this email."))

    sender = current_actor()[0]
    notification = DocumentNotification(
        document_id=document.id,
        occasion=plan.occasion,
        versions=plan.versions,
        languages=",".join(plan.new_languages),
        repeat_number=0 if plan.previous_repeat_number is None else plan.previous_repeat_number + 1,
        recipients=len(recipients),
        sent_by_id=sender.id if sender is not None else None,
    )
    db.session.add(notification)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            _("These versions of %(symbol)s have just been announced by someone else.", symbol=document.symbol)
        ) from None

    shared = {}
    emails = []
    for registration in recipients:
        language = registration.preferred_language
        if language not in shared:
            shared[language] = _language_context(plan, language)
        emails.append(
            OutgoingEmail(
                to=registration.email,
                language=language,
                context={
                    **shared[language],
                    "personal_link": external_url("registration.personal", token=personal_token(registration)),
                },
                recipient_name=registration.full_name,
                cause_object=registration,
            )
        )
    queued = queue_emails(TEMPLATE, emails, subject=_subject(plan), meeting=meeting, cause=CAUSE)
    by_language = Counter(registration.preferred_language for registration in recipients)
    record(
        "document.notify",
        meeting=meeting,
        obj=document,
        summary=ngettext(
            "Notified %(num)d participant of %(symbol)s.",
            "Notified %(num)d participants of %(symbol)s.",
            queued,
            symbol=document.symbol,
        ),
        details={
            "notification_id": notification.id,
            "occasion": str(plan.occasion),
            "versions": plan.versions,
            "new_languages": plan.new_languages,
            "recipients": queued,
            "by_language": dict(by_language),
            "repeat_number": notification.repeat_number,
        },
    )
    return notification


# The participant's choice ----------------------------------------------------------------------


def set_document_emails(registration, wanted: bool) -> bool:
    """The participant turns the emails about new documents on or off (personal page); False when
    nothing changed."""
    opt_out = not wanted
    if registration.document_emails_opt_out == opt_out:
        return False
    registration.document_emails_opt_out = opt_out
    record(
        "registration.document_emails",
        meeting=registration.meeting,
        obj=registration,
        summary=(
            f"{registration.full_name} turned off the emails about new documents"
            if opt_out
            else f"{registration.full_name} turned on the emails about new documents"
        ),
        details={"document_emails": wanted},
        actor=_registrant(registration),
    )
    return True


def language_label(code) -> str:
    """A language's name in the page's language, for the organizer's preview."""
    return language_name(code, str(get_locale()))
