"""Queueing emails and what organizers do with the outbox.

`queue_email()` is how every module sends mail: it renders `templates/email/<name>.txt` and `.html`
in the recipient's language and adds an `OutboxMessage` to the caller's transaction, so the email
exists exactly when the action that caused it is committed. Nothing here talks to an SMTP server;
the delivery worker (`delivery.py`) does, later."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.utils import make_msgid, parseaddr
from urllib.parse import quote, urlsplit

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.orm import defer, joinedload

from ..core import audit
from ..core.errors import Conflict, DomainError, NotFound
from ..core.models import utcnow
from ..extensions import db
from .models import NAME_LENGTH, SUBJECT_LENGTH, OutboxAttachment, OutboxMessage, OutboxStatus

Subject = str | Callable[[], str]
# (file name, content type such as "text/calendar", content)
Attachment = tuple[str, str, bytes]

CONTENT_TYPE_PATTERN = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def mail_server_configured() -> bool:
    """Without MAIL_SERVER the service runs in development mode: emails stay queued in the outbox."""
    return bool(current_app.config.get("MAIL_SERVER"))


def external_url(endpoint, **values) -> str:
    """An absolute URL for links in emails: built on BASE_URL (the address the public knows, whatever
    host the action came through), else on the current request; the worker and the CLI need BASE_URL."""
    anchor = values.pop("_anchor", None)
    base = current_app.config.get("BASE_URL")
    if base:
        parts = urlsplit(base)
        adapter = current_app.url_map.bind(
            parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme or "https"
        )
        current_app.inject_url_defaults(endpoint, values)
        url = adapter.build(endpoint, values, force_external=True)
    elif has_request_context():
        url = url_for(endpoint, _external=True, **values)
    else:
        raise RuntimeError("Set MEETING_BASE_URL (e.g. https://meetings.example.org) to build links in emails.")
    return f"{url}#{quote(anchor)}" if anchor else url


# CR and LF, and every other character a mail library could take for the end of a header line: the
# control characters (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) and the line and paragraph
# separators (Zl, Zp: U+2028, U+2029). One search instead of a look-up per character: every email's
# addresses, name and subject go through it (tests/test_outbox.py checks it against the categories).
_LINE_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _has_line_break(value: str) -> bool:
    return _LINE_BREAK.search(value) is not None


def _check_recipients(to) -> list[str]:
    addresses = [to] if isinstance(to, str) else list(to)
    cleaned = []
    for address in addresses:
        address = (address or "").strip()
        if _has_line_break(address):
            raise DomainError(
                _("The email address %(address)s contains a line break; no email was queued.", address=repr(address)),
                fields={"to": ["line break"]},
            )
        if not address or parseaddr(address)[1] != address or address.count("@") != 1 or " " in address:
            raise DomainError(
                _("“%(address)s” is not a valid email address; no email was queued.", address=address),
                fields={"to": ["invalid"]},
            )
        if address not in cleaned:
            cleaned.append(address)
    if not cleaned:
        raise DomainError(_("An email needs at least one recipient."), fields={"to": ["required"]})
    return cleaned


def _check_attachments(attachments) -> list[Attachment]:
    files = []
    for filename, content_type, content in attachments:
        filename, content_type = (filename or "").strip(), (content_type or "").strip().lower()
        if not filename or len(filename) > 255 or _has_line_break(filename) or "/" in filename or "\\" in filename:
            raise DomainError(
                _("The attachment name %(name)s is not valid; no email was queued.", name=repr(filename)),
                fields={"attachments": ["invalid name"]},
            )
        if not CONTENT_TYPE_PATTERN.fullmatch(content_type) or len(content_type) > 100:
            raise DomainError(
                _("The attachment type %(type)s is not valid; no email was queued.", type=repr(content_type)),
                fields={"attachments": ["invalid type"]},
            )
        if not isinstance(content, bytes):
            raise DomainError(
                _("An attachment must be bytes; no email was queued."), fields={"attachments": ["not bytes"]}
            )
        files.append((filename, content_type, content))
    return files


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _message_id_domain() -> str:
    sender = current_app.config.get("MAIL_DEFAULT_SENDER") or ""
    if isinstance(sender, tuple | list):
        sender = sender[-1]
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "localhost"


def _templates(template: str):
    env = current_app.jinja_env
    return env.get_template(f"email/{template}.txt"), env.get_template(f"email/{template}.html")


def render_email(template: str, language: str, context: dict) -> tuple[str, str]:
    """The text and HTML bodies of `templates/email/<template>` in `language`.

    The templates are rendered from the Jinja environment directly, not with `render_template`:
    an email has no page around it, so the page's context processors (the visitor's language,
    the session) must not leak into it, and the worker renders outside any request."""
    with force_locale(language):
        return _render(_templates(template), context)


def _render(templates, context) -> tuple[str, str]:
    text_template, html_template = templates
    return text_template.render(context), html_template.render(context)


@dataclass(frozen=True)
class OutgoingEmail:
    """One email of a batch given to `queue_emails`: what differs from one recipient to the next."""

    to: str | Iterable[str]
    language: str
    context: dict = field(default_factory=dict)
    recipient_name: str = ""
    cause_object: object = None


def _email_language(language: str) -> str:
    return language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def _clean_recipient_name(recipient_name: str) -> str:
    recipient_name = (recipient_name or "").strip()
    if _has_line_break(recipient_name):
        raise DomainError(
            _("The recipient's name contains a line break; no email was queued."),
            fields={"recipient_name": ["line break"]},
        )
    return _shorten(recipient_name, NAME_LENGTH)


def _subject_text(subject: Subject) -> str:
    """The subject in the language in force (the caller's `force_locale`)."""
    subject_text = str(subject() if callable(subject) else subject).strip()
    if _has_line_break(subject_text):
        raise DomainError(
            _("The subject of the email contains a line break; no email was queued."),
            fields={"subject": ["line break"]},
        )
    return _shorten(subject_text, SUBJECT_LENGTH)


def _template_gettext() -> dict:
    """`gettext` and `ngettext` for the email templates, bound to the catalog of the language in
    force (the caller's `force_locale`). Jinja's `_()` looks `gettext` up in the template's context
    before the environment's globals, so passing these with the context translates as Flask-Babel's
    globals do (Jinja's "newstyle" gettext: escaped in HTML, always %-formatted), without looking the
    language and its catalog up again for every string of every email of a batch."""
    translations = get_translations()

    @pass_context
    def gettext(context, string, **variables):
        text = translations.ugettext(string)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    @pass_context
    def ngettext(context, singular, plural, num, **variables):
        variables.setdefault("num", num)
        text = translations.ungettext(singular, plural, num)
        return (Markup(text) if context.eval_ctx.autoescape else text) % variables

    return {"gettext": gettext, "ngettext": ngettext}


def _template_context(email: OutgoingEmail, *, subject_text, meeting, gettext) -> dict:
    """What the templates of `email` are rendered with (`gettext`: `_template_gettext()`)."""
    values = dict(email.context or {})
    values.update(
        language=email.language,
        recipient_name=_clean_recipient_name(email.recipient_name),
        subject=subject_text,
        meeting=meeting,
    )
    values.update(gettext)
    return values


def _outbox_values(email: OutgoingEmail, context: dict, bodies: tuple[str, str], *, cause, domain, now) -> dict:
    """The columns of one outbox row: `email`, rendered with `context` (`_template_context`, whose
    recipient's name, subject and meeting it takes) into `bodies` (text, HTML)."""
    recipients = _check_recipients(email.to)
    meeting = context["meeting"]
    cause_object = email.cause_object
    return {
        "meeting_id": meeting.id if meeting is not None else None,
        "recipients": "\n".join(recipients),
        "recipient_name": context["recipient_name"],
        "subject": context["subject"],
        "body_text": bodies[0],
        "body_html": bodies[1],
        "language": email.language,
        "cause": cause,
        "cause_object_type": type(cause_object).__name__ if cause_object is not None else None,
        "cause_object_id": getattr(cause_object, "id", None),
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": now,
        "message_id": make_msgid(domain=domain),
    }


def _email_row(template, *, to, language, subject, context, meeting, cause, cause_object, recipient_name) -> dict:
    """The checked and rendered columns of one outbox row (see `queue_email`): the recipient's name
    and the subject are checked by `_template_context`, the addresses by `_outbox_values`."""
    language = _email_language(language)
    email = OutgoingEmail(
        to=to, language=language, context=context or {}, recipient_name=recipient_name, cause_object=cause_object
    )
    with force_locale(language):
        context = _template_context(
            email, subject_text=_subject_text(subject), meeting=meeting, gettext=_template_gettext()
        )
        bodies = _render(_templates(template), context)
        return _outbox_values(email, context, bodies, cause=cause, domain=_message_id_domain(), now=utcnow())


def queue_email(
    template: str,
    *,
    to: str | Iterable[str],
    language: str,
    subject: Subject,
    context: dict | None = None,
    meeting=None,
    cause: str,
    cause_object=None,
    recipient_name: str = "",
    attachments: Iterable[Attachment] = (),
) -> OutboxMessage:
    """Render an email in the recipient's language and add it to the outbox, in the caller's transaction.

    `subject` is a string, a lazy string (`lazy_gettext`) or a callable returning one; it is turned
    into text under the recipient's language. The template gets `context` plus `language`,
    `recipient_name`, `subject` and `meeting`. `attachments` are (file name, content type, bytes).
    A line break in an address, the recipient's name, the subject or a file name is refused with a
    DomainError (it could inject mail headers)."""
    files = _check_attachments(attachments)
    values = _email_row(
        template,
        to=to,
        language=language,
        subject=subject,
        context=context,
        meeting=meeting,
        cause=cause,
        cause_object=cause_object,
        recipient_name=recipient_name,
    )
    message = OutboxMessage(
        **values,
        attachments=[
            OutboxAttachment(filename=filename, content_type=content_type, content=content)
            for filename, content_type, content in files
        ],
    )
    db.session.add(message)
    return message


# Built once: the registration form writes one email per registration with them.
_INSERT_EMAIL = insert(OutboxMessage).returning(OutboxMessage.id)
_RENDER_AGAIN = update(OutboxMessage).where(OutboxMessage.id == bindparam("outbox_id"))


def insert_email(template: str, *, replacing: int | None = None, **email) -> int:
    """`queue_email` for the busiest path (a burst of registrations), without attachments: the row is
    written at once with one prebuilt INSERT on the transaction's connection (the ORM's unit of work
    costs several times more) and its id is returned; no OutboxMessage object is made.

    With `replacing`, the id of an email written so earlier in the same transaction (not sent: it is
    not committed), that row is rendered again with the new context and updated instead: a
    registration's email first written for the status it guessed, rewritten for the one decided."""
    values = _email_row(template, **email)
    connection = db.session.connection()
    if replacing is None:
        return connection.execute(_INSERT_EMAIL, values).scalar_one()
    changed = {name: values[name] for name in ("recipients", "recipient_name", "subject", "body_text", "body_html")}
    connection.execute(_RENDER_AGAIN.values(**changed), {"outbox_id": replacing})
    return replacing


_SLOT = re.compile("\x00slot([0-9]+)\x00")  # a mark no value of a context holds (see `_batch_bodies`)
_NOTHING = object()


def _batch_bodies(templates, contexts: list[dict], slots) -> list[tuple[str, str]]:
    """The (text, HTML) bodies of emails of one template and one language, one per context.

    When the contexts differ only in `slots` — values the templates print as they are, and never
    test nor transform (the invitation's link, the organization's name) — the templates are rendered
    once, with a mark in place of each of those values, and each email's values are then written in
    the marks (escaped in the HTML, as Jinja escapes them). Five thousand invitations then cost three
    renderings, one per language, instead of ten thousand. The first email is also rendered in full
    and compared: should a template do more with a slot than print it, every email is rendered in
    full, as it is when the contexts differ elsewhere."""
    first = contexts[0] if contexts else {}
    differing = sorted(
        {
            key
            for context in contexts[1:]
            for key in context.keys() | first.keys()
            if context.get(key, _NOTHING) != first.get(key, _NOTHING)
        }
    )
    if (
        len(contexts) < 2
        or not set(differing) <= set(slots)
        or any(key not in context for context in contexts for key in differing)  # a slot some lack
    ):
        return [_render(templates, context) for context in contexts]
    text, html = _render(templates, {**first, **{key: f"\x00slot{number}\x00" for number, key in enumerate(differing)}})

    def filled(context):
        values = [context[key] for key in differing]
        return (
            _SLOT.sub(lambda mark: str(values[int(mark.group(1))]), text),
            _SLOT.sub(lambda mark: str(escape(values[int(mark.group(1))])), html),
        )

    if filled(first) != _render(templates, first):
        return [_render(templates, context) for context in contexts]
    return [filled(context) for context in contexts]


def queue_emails(
    template: str, emails: Iterable[OutgoingEmail], *, subject: Subject, meeting=None, cause: str, slots=()
) -> int:
    """Queue many emails of one template at once (an invitation round to every Member State), in the
    caller's transaction; returns how many. Each is checked and rendered as `queue_email` would do
    it, in its own language, with the same `subject` (evaluated once per language); if any is
    refused, none is queued. The templates and the language are set up once per language rather
    than once per email, and the rows are written by one multi-row INSERT, so that thousands of
    emails take seconds. `slots` names the values of the contexts that the templates only print:
    emails that differ only in those are rendered once per language (see `_batch_bodies`). The
    outbox rows keep the order of `emails`."""
    pending = {}
    for index, email in enumerate(emails):
        language = _email_language(email.language)
        if language != email.language:
            email = replace(email, language=language)
        pending.setdefault(language, []).append((index, email))
    if not pending:
        return 0
    templates, domain, now = _templates(template), _message_id_domain(), utcnow()
    rows = {}
    for language, batch in pending.items():
        with force_locale(language):
            subject_text, gettext = _subject_text(subject), _template_gettext()
            contexts = [
                _template_context(email, subject_text=subject_text, meeting=meeting, gettext=gettext)
                for _index, email in batch
            ]
            bodies = _batch_bodies(templates, contexts, slots)
            for (index, email), context, email_bodies in zip(batch, contexts, bodies, strict=True):
                rows[index] = _outbox_values(email, context, email_bodies, cause=cause, domain=domain, now=now)
    for values in rows.values():
        values.update(created_at=now, updated_at=now)
    db.session.execute(insert(OutboxMessage), [rows[index] for index in sorted(rows)])
    return len(rows)


def send_test_email(to: str, language: str) -> OutboxMessage:
    """An organizer checks that mail goes out: a short message queued like any other."""
    message = queue_email(
        "test_message",
        to=to,
        language=language,
        subject=_l("Test message from the meetings service"),
        context={"queued_at": utcnow()},
        cause="test",
    )
    db.session.flush()
    audit.record("outbox.test_email", obj=message, summary=f"Test email to {message.recipients}")
    return message


# What organizers see and do.


def _filtered(query, *, meeting=None, status=None, search=None, ids=None):
    if meeting is not None:
        query = query.where(OutboxMessage.meeting_id == meeting.id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if search:
        pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            OutboxMessage.recipients.ilike(pattern, escape="\\")
            | OutboxMessage.recipient_name.ilike(pattern, escape="\\")
            | OutboxMessage.subject.ilike(pattern, escape="\\")
        )
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    return query


def counts_by_status(meeting=None) -> dict[str, int]:
    query = _filtered(
        db.select(OutboxMessage.status, func.count(OutboxMessage.id)).group_by(OutboxMessage.status), meeting=meeting
    )
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update(dict(db.session.execute(query).all()))
    return counts


def outbox_page(*, meeting=None, status=None, search=None, page=1):
    """The newest messages first, without their bodies (a list never needs them)."""
    query = _filtered(
        db.select(OutboxMessage)
        .options(
            joinedload(OutboxMessage.meeting),
            defer(OutboxMessage.body_text, raiseload=True),
            defer(OutboxMessage.body_html, raiseload=True),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()),
        meeting=meeting,
        status=status,
        search=search,
    )
    per_page = current_app.config.get("PER_PAGE", 50)
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


def get_message(message_id) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id, options=[joinedload(OutboxMessage.meeting)])
    if message is None:
        raise NotFound(_("There is no such email in the outbox."))
    return message


def _transition(message, from_statuses, **values) -> bool:
    """Change a message's status only if it is still in one of `from_statuses`: a worker may have
    claimed it since the page was shown, and a message being sent must not be touched."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status.in_(from_statuses))
        .values(**values, updated_at=utcnow())
    )
    return result.rowcount == 1


def _retry_values():
    # A retry starts over: a full set of attempts, from now.
    return {
        "status": OutboxStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "lease_expires_at": None,
        "claimed_by": None,
    }


def retry_message(message_id) -> OutboxMessage:
    message = get_message(message_id)
    if not _transition(message, [OutboxStatus.FAILED], **_retry_values()):
        raise Conflict(_("Only an email that failed can be retried."))
    audit.record(
        "outbox.retry",
        meeting=message.meeting,
        obj=message,
        summary=f"Retry email “{message.subject}” to {', '.join(message.recipient_list)}",
    )
    return message


def cancel_message(message_id) -> OutboxMessage:
    message = get_message(message_id)
    if not _transition(message, [OutboxStatus.QUEUED, OutboxStatus.FAILED], status=OutboxStatus.CANCELLED):
        db.session.refresh(message)
        if message.status == OutboxStatus.SENDING:
            raise Conflict(_("This email is being sent right now and can no longer be cancelled."))
        raise Conflict(_("Only an email that is waiting to be sent can be cancelled."))
    audit.record(
        "outbox.cancel",
        meeting=message.meeting,
        obj=message,
        summary=f"Cancel email “{message.subject}” to {', '.join(message.recipient_list)}",
    )
    return message


def retry_failed(*, meeting=None, ids=None) -> int:
    """Queue again every failed message (of a meeting, or among `ids`); returns how many.

    One audit entry per meeting concerned, with the number of messages retried."""
    from ..meetings.models import Meeting

    failed = _filtered(
        db.select(OutboxMessage.meeting_id, func.count(OutboxMessage.id))
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .group_by(OutboxMessage.meeting_id),
        meeting=meeting,
        ids=ids,
    )
    per_meeting = dict(db.session.execute(failed).all())
    if not per_meeting:
        return 0
    statement = _filtered(
        update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED), meeting=meeting, ids=ids
    ).values(**_retry_values(), updated_at=utcnow())
    retried = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount
    meetings = {
        m.id: m for m in db.session.scalars(db.select(Meeting).where(Meeting.id.in_([k for k in per_meeting if k])))
    }
    for meeting_id, count in per_meeting.items():
        audit.record(
            "outbox.retry_failed",
            meeting=meetings.get(meeting_id),
            summary=f"Retry {count} failed emails",
            details={"count": count, "selected": ids is not None},
        )
    return retried
