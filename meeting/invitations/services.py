"""What organizers do with invitations — choose organizations, preview the email, invite them (one
invitation per meeting and organization), send drafts, remind, resend to corrected addresses, revoke —
and what a delegation does with its link: view, accept, decline.

Emails go through the outbox (`queue_email`) in the caller's transaction, each tied to its invitation
(`cause_object`), so an invitation and its email are committed or rolled back together. The link's
token is rebuilt from the invitation's nonce whenever an email needs it; only its hash is stored.
Every action writes an audit entry. Nothing here commits."""

from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, insert
from sqlalchemy.orm import contains_eager, defer, joinedload, selectinload, with_expression

from ..accounts.models import Role, User
from ..core import audit
from ..core.errors import DomainError, NotFound
from ..core.models import utcnow
from ..core.tokens import hash_token
from ..directory.models import Organization, OrganizationKind, search_key
from ..extensions import db
from ..mail.models import OutboxMessage, OutboxStatus
from ..mail.services import OutgoingEmail, external_url, queue_email, queue_emails, render_email
from ..meetings.models import Meeting, MeetingStatus
from ..registration.models import ACTIVE_STATUSES, Registration
from .models import (
    AWAITING_ANSWER_STATUSES,
    Invitation,
    InvitationStatus,
)

MESSAGE_LENGTH = 5000
REASON_LENGTH = 2000
MAX_RECIPIENTS = 20

# The emails that reach (or fail to reach) the delegation; the latest one says "sent" or "failed".
DELIVERY_CAUSES = ("invitation", "invitation.reminder")

SKIP_REASONS = {
    "inactive": _l("deactivated in the directory"),
    "no_focal_point": _l("no focal-point email address"),
}

# Shown in place of the token when an organizer previews an email: the link has no token yet.
PREVIEW_TOKEN = "preview"


@dataclass
class InvitationPlan:
    """What inviting a selection would do: who gets a new invitation, who has one, who cannot get one."""

    new: list[Organization] = field(default_factory=list)
    already_invited: list[Organization] = field(default_factory=list)
    skipped: list[tuple[Organization, str]] = field(default_factory=list)  # (organization, reason code)


@dataclass
class InviteResult:
    invitations: list[Invitation]
    already_invited: int
    skipped: list[tuple[Organization, str]]

    @property
    def created(self) -> int:
        return len(self.invitations)


@dataclass
class EmailPreview:
    organization: Organization
    language: str
    recipients: list[str]
    subject: str
    text: str
    html: str


# Choosing whom to invite ----------------------------------------------------------------------


def select_organizations(*, kind="", search="", ids=None) -> list[Organization]:
    """The organizations chosen by an organizer, with their focal points: a hand-picked list (`ids`),
    or every organization of a `kind` and/or matching a `search` of the directory (names and
    acronym, ignoring case and accents), in alphabetical order."""
    query = (
        db.select(Organization)
        .options(selectinload(Organization.contacts))
        .order_by(Organization.search_text, Organization.id)
    )
    kind, search = (kind or "").strip(), (search or "").strip()
    if ids is not None:
        if kind or search:
            raise DomainError(
                _("Either pick organizations or choose a kind or a search, not both."),
                fields={"organization_ids": [_("Give either a list of organizations or a kind, not both.")]},
            )
        if not isinstance(ids, list | tuple) or any(type(value) is not int for value in ids):
            raise DomainError(
                _("The organizations must be given as a list of numbers."),
                fields={"organization_ids": [_("Give a list of organization numbers.")]},
            )
        if not ids:
            raise DomainError(
                _("Choose at least one organization to invite."),
                fields={"organization_ids": [_("Choose at least one organization.")]},
            )
        organizations = db.session.scalars(query.where(Organization.id.in_(set(ids)))).all()
        unknown = sorted(set(ids) - {organization.id for organization in organizations})
        if unknown:
            message = _("There is no organization numbered %(ids)s in the directory.", ids=", ".join(map(str, unknown)))
            raise DomainError(message, fields={"organization_ids": [message]})
        return organizations
    if not kind and not search:
        raise DomainError(
            _("Choose whom to invite: a kind of organization, a search, or organizations from the list."),
            fields={"kind": [_("Choose a kind of organization.")]},
        )
    if kind:
        if kind not in set(OrganizationKind):
            message = _(
                "“%(kind)s” is not a kind of organization; use one of %(kinds)s.",
                kind=kind,
                kinds=", ".join(OrganizationKind),
            )
            raise DomainError(message, fields={"kind": [message]})
        query = query.where(Organization.kind == kind)
    if search:
        escaped = search_key(search).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Organization.search_text.like(f"%{escaped}%", escape="\\"))
    return db.session.scalars(query).all()


def plan_invitations(meeting, organizations) -> InvitationPlan:
    """Sort a selection (with its contacts loaded) without changing anything; one query."""
    invited = set(db.session.scalars(db.select(Invitation.organization_id).where(Invitation.meeting_id == meeting.id)))
    plan = InvitationPlan()
    seen = set()
    for organization in organizations:
        if organization.id in seen:
            continue
        seen.add(organization.id)
        if organization.id in invited:
            plan.already_invited.append(organization)
        elif not organization.active:
            plan.skipped.append((organization, "inactive"))
        elif not organization.contacts:
            plan.skipped.append((organization, "no_focal_point"))
        else:
            plan.new.append(organization)
    return plan


def skip_reason_label(reason: str) -> str:
    return str(SKIP_REASONS.get(reason, reason))


# The emails ------------------------------------------------------------------------------------


def invitation_language(meeting, organization) -> str:
    """The organization's preferred language if the meeting offers it, else the meeting's first."""
    offered = meeting.language_codes or [current_app.config["BABEL_DEFAULT_LOCALE"]]
    return organization.preferred_language if organization.preferred_language in offered else offered[0]


def _recipient_name(organization, language) -> str:
    # A name typed with a stray line break must not stop a bulk invitation: it is one line here.
    return " ".join(organization.name(language).split())


def _email_context(meeting, organization, language, personal_message, link) -> dict:
    return {
        "organization_name": organization.name(language),
        "personal_message": personal_message,
        "link": link,
        "place": ", ".join(part for part in (meeting.venue, meeting.city) if part),
    }


def _invitation_subject(meeting):
    return _l("Invitation: %(title)s", title=meeting.lazy_localized("title"))


def _reminder_subject(meeting):
    return _l("Reminder: invitation to the %(title)s", title=meeting.lazy_localized("title"))


def _link_token(invitation) -> str:
    """The invitation's token, as its link carries it. After a change of SECRET_KEY the rebuilt token
    no longer matches the stored hash: the invitation then gets the new one (the old link dies)."""
    token = invitation.token()
    token_hash = hash_token(token)
    if invitation.token_hash != token_hash:
        invitation.token_hash = token_hash
    return token


def _email(invitation) -> OutgoingEmail:
    """The invitation's email to its delegation: the focal points, in the invitation's language."""
    meeting, organization = invitation.meeting, invitation.organization
    link = external_url("invitations.show", token=_link_token(invitation))
    return OutgoingEmail(
        to=invitation.recipient_list,
        language=invitation.language,
        context=_email_context(meeting, organization, invitation.language, invitation.personal_message, link),
        recipient_name=_recipient_name(organization, invitation.language),
        cause_object=invitation,
    )


def _queue(invitation, *, template, subject, cause):
    email = _email(invitation)
    return queue_email(
        template,
        to=email.to,
        language=email.language,
        subject=subject,
        context=email.context,
        meeting=invitation.meeting,
        cause=cause,
        cause_object=invitation,
        recipient_name=email.recipient_name,
    )


# What differs from one organization's invitation email to the next, and what the invitation
# templates only print: a round renders them once per language (see `mail.services._batch_bodies`).
_EMAIL_SLOTS = ("organization_name", "recipient_name", "link")


def _queue_all(meeting, invitations, *, template, subject, cause) -> None:
    """The emails of many invitations of `meeting` at once (see `queue_emails`)."""
    queue_emails(
        template,
        [_email(invitation) for invitation in invitations],
        subject=subject,
        meeting=meeting,
        cause=cause,
        slots=_EMAIL_SLOTS,
    )


def _queue_invitation(invitation, now):
    invitation.status = InvitationStatus.QUEUED
    invitation.queued_at = invitation.queued_at or now
    _queue(invitation, template="invitation", subject=_invitation_subject(invitation.meeting), cause="invitation")


def preview(meeting, organization, personal_message="") -> EmailPreview:
    """The invitation email `organization` would receive, rendered but not queued."""
    personal_message = _clean_message(personal_message)
    language = invitation_language(meeting, organization)
    with force_locale(language):
        subject = str(_invitation_subject(meeting))
    link = external_url("invitations.show", token=PREVIEW_TOKEN)
    context = _email_context(meeting, organization, language, personal_message, link)
    context.update(
        language=language,
        recipient_name=_recipient_name(organization, language),
        subject=subject,
        meeting=meeting,
    )
    text, html = render_email("invitation", language, context)
    return EmailPreview(organization, language, organization.focal_point_emails, subject, text, html)


# What organizers do ----------------------------------------------------------------------------


def _refuse_if_over(meeting):
    if meeting.status in (MeetingStatus.CLOSED, MeetingStatus.ARCHIVED) or meeting.has_ended():
        raise DomainError(_("This meeting is over: its invitations can no longer be sent."))


def _clean_message(text) -> str:
    text = (text or "").strip()
    if len(text) > MESSAGE_LENGTH:
        message = _("The personal message can have at most %(n)d characters.", n=MESSAGE_LENGTH)
        raise DomainError(message, fields={"message": [message]})
    return text


def _insert_invitations(meeting, organizations, personal_message, send) -> list[Invitation]:
    """New invitations of `meeting` for `organizations`, in their order. An invitation round may
    invite thousands of organizations: the rows are written by one multi-row INSERT (an ORM flush
    would insert them with RETURNING, several times slower on PostgreSQL), then read back in one
    query."""
    if not organizations:
        return []
    now = utcnow()
    rows = []
    for organization in organizations:
        # A transient invitation, for its token's nonce and hash (see `Invitation.renew_token`).
        token = Invitation(meeting_id=meeting.id, organization_id=organization.id)
        token.renew_token()
        rows.append(
            {
                "meeting_id": meeting.id,
                "organization_id": organization.id,
                "token_nonce": token.token_nonce,
                "token_hash": token.token_hash,
                "recipients": "\n".join(organization.focal_point_emails),
                "language": invitation_language(meeting, organization),
                "personal_message": personal_message,
                "status": InvitationStatus.QUEUED if send else InvitationStatus.DRAFT,
                "queued_at": now if send else None,
                "reminders_sent": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(insert(Invitation), rows)
    # The meeting and the organizations are in the session already: reading an invitation's
    # `meeting` or `organization` costs no query.
    created = {
        invitation.organization_id: invitation
        for invitation in db.session.scalars(db.select(Invitation).where(Invitation.meeting_id == meeting.id))
    }
    return [created[organization.id] for organization in organizations]


def invite(meeting, organizations, *, personal_message="", send=True) -> InviteResult:
    """Invite each organization once to `meeting` (pass them with their contacts loaded, as
    `select_organizations` returns them): organizations already invited keep their invitation and
    get no new email; inactive ones and those without a focal-point address are skipped.

    With `send`, each new invitation's email is queued to the focal points, in the organization's
    language; without, the invitations stay drafts (`send_drafts`)."""
    _refuse_if_over(meeting)
    personal_message = _clean_message(personal_message)
    plan = plan_invitations(meeting, organizations)
    invitations = _insert_invitations(meeting, plan.new, personal_message, send)
    if send:
        _queue_all(
            meeting, invitations, template="invitation", subject=_invitation_subject(meeting), cause="invitation"
        )
    if invitations:
        verb = "Invited" if send else "Drafted invitations for"
        audit.record(
            "invitation.invite" if send else "invitation.draft",
            meeting=meeting,
            summary=f"{verb} {len(invitations)} organizations",
            details={
                "invitations": [invitation.id for invitation in invitations],
                "already_invited": [organization.id for organization in plan.already_invited],
                "skipped": {str(organization.id): reason for organization, reason in plan.skipped},
                "personal_message": bool(personal_message),
            },
        )
    return InviteResult(invitations, len(plan.already_invited), plan.skipped)


def _invitations(meeting, ids) -> list[Invitation]:
    ids = [value for value in ids if type(value) is int]
    if not ids:
        return []
    return db.session.scalars(
        db.select(Invitation)
        .where(Invitation.meeting_id == meeting.id, Invitation.id.in_(set(ids)))
        .options(selectinload(Invitation.organization).selectinload(Organization.contacts))
        .order_by(Invitation.id)
    ).all()


def send_drafts(meeting, invitation_ids) -> tuple[int, int]:
    """Queue the emails of the draft invitations among `invitation_ids`, to the focal points the
    directory has now. Returns (sent, skipped): drafts whose organization has no address left, and
    invitations that are no drafts, are skipped."""
    _refuse_if_over(meeting)
    now = utcnow()
    drafts = [
        invitation
        for invitation in _invitations(meeting, invitation_ids)
        if invitation.status == InvitationStatus.DRAFT and invitation.organization.contacts
    ]
    for invitation in drafts:
        invitation.recipients = "\n".join(invitation.organization.focal_point_emails)
        invitation.status = InvitationStatus.QUEUED
        invitation.queued_at = invitation.queued_at or now
    _queue_all(meeting, drafts, template="invitation", subject=_invitation_subject(meeting), cause="invitation")
    sent = [invitation.id for invitation in drafts]
    if sent:
        audit.record(
            "invitation.send_drafts",
            meeting=meeting,
            summary=f"Sent {len(sent)} draft invitations",
            details={"invitations": sent},
        )
    return len(sent), len(set(invitation_ids)) - len(sent)


def remind(meeting, invitation_ids) -> tuple[int, int]:
    """Send a reminder, with the same link, for each invitation among `invitation_ids` that has been
    sent and not answered (nor revoked). Returns (reminded, skipped)."""
    _refuse_if_over(meeting)
    now = utcnow()
    awaiting = [
        invitation
        for invitation in _invitations(meeting, invitation_ids)
        if invitation.status in AWAITING_ANSWER_STATUSES
    ]
    _queue_all(
        meeting,
        awaiting,
        template="invitation_reminder",
        subject=_reminder_subject(meeting),
        cause="invitation.reminder",
    )
    for invitation in awaiting:
        invitation.reminders_sent += 1
        invitation.last_reminded_at = now
    reminded = [invitation.id for invitation in awaiting]
    if reminded:
        audit.record(
            "invitation.remind",
            meeting=meeting,
            summary=f"Sent reminders for {len(reminded)} invitations",
            details={"invitations": reminded},
        )
    return len(reminded), len(set(invitation_ids)) - len(reminded)


def _has_line_break(value: str) -> bool:
    return any(char in "\r\n\u2028\u2029\x85" for char in value)


def clean_recipients(addresses) -> list[str]:
    """Valid addresses, lower-cased, each once; a line break inside one is refused (it could add mail
    headers), as is an empty list."""
    cleaned = []
    for address in addresses:
        address = (address or "").strip()
        if not address:
            continue
        if _has_line_break(address):
            message = _("The address %(address)s contains a line break.", address=repr(address))
            raise DomainError(message, fields={"recipients": [message]})
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            message = _("“%(email)s” is not a valid email address.", email=address)
            raise DomainError(message, fields={"recipients": [message]}) from None
        address = address.lower()
        if address not in cleaned:
            cleaned.append(address)
    if not cleaned:
        message = _("Give at least one email address.")
        raise DomainError(message, fields={"recipients": [message]})
    if len(cleaned) > MAX_RECIPIENTS:
        message = _("Give at most %(n)d addresses.", n=MAX_RECIPIENTS)
        raise DomainError(message, fields={"recipients": [message]})
    return cleaned


def resend(invitation, recipients, *, new_link=False) -> Invitation:
    """Send the invitation again, to corrected addresses. With `new_link` the invitation gets a new
    token: the link of earlier emails stops working (for an invitation sent to a wrong address)."""
    if invitation.status == InvitationStatus.REVOKED:
        raise DomainError(_("This invitation has been revoked; it cannot be sent again."))
    _refuse_if_over(invitation.meeting)
    addresses = clean_recipients(recipients)
    before = invitation.recipient_list
    invitation.recipients = "\n".join(addresses)
    if new_link:
        invitation.renew_token()
    if invitation.status == InvitationStatus.DRAFT:
        _queue_invitation(invitation, utcnow())
    else:
        _queue(invitation, template="invitation", subject=_invitation_subject(invitation.meeting), cause="invitation")
    audit.record(
        "invitation.resend",
        meeting=invitation.meeting,
        obj=invitation,
        summary=f"Sent the invitation of {invitation.organization.name_en} again to {', '.join(addresses)}"
        + (" with a new link" if new_link else ""),
        details={"recipients": [before, addresses], "new_link": new_link},
    )
    return invitation


def revoke(invitation) -> Invitation:
    """Withdraw an invitation: its link answers 404 from now on."""
    if invitation.status == InvitationStatus.REVOKED:
        return invitation
    previous = invitation.status
    invitation.status = InvitationStatus.REVOKED
    audit.record(
        "invitation.revoke",
        meeting=invitation.meeting,
        obj=invitation,
        summary=f"Revoked the invitation of {invitation.organization.name_en}",
        details={"from": previous},
    )
    return invitation


# What a delegation does with its link ----------------------------------------------------------


def invitation_by_token(token) -> Invitation | None:
    """The invitation a link leads to, with its meeting, program and organization; None for an
    unknown token, a revoked invitation or a draft (whose link was never sent)."""
    if not token or len(token) > 100:
        return None
    invitation = db.session.scalar(
        db.select(Invitation)
        .where(Invitation.token_hash == hash_token(token))
        .options(
            joinedload(Invitation.meeting).selectinload(Meeting.sessions),
            joinedload(Invitation.organization),
        )
    )
    if invitation is None or invitation.status in (InvitationStatus.REVOKED, InvitationStatus.DRAFT):
        return None
    return invitation


def _delegation(invitation):
    """The audit log's actor for what is done through the link."""
    return None, f"{invitation.organization.name_en} (invitation link)"


def can_answer(invitation) -> bool:
    meeting = invitation.meeting
    return (
        invitation.status != InvitationStatus.REVOKED
        and meeting.status not in (MeetingStatus.CLOSED, MeetingStatus.ARCHIVED)
        and not meeting.has_ended()
    )


def _refuse_answer_if_closed(invitation):
    if invitation.status == InvitationStatus.REVOKED:
        raise DomainError(_("This invitation has been withdrawn by the Secretariat."))
    if not can_answer(invitation):
        raise DomainError(_("This meeting is over: the invitation can no longer be answered."))


def record_view(invitation) -> Invitation:
    """The first time the link is opened: its time, and "viewed" for an invitation not answered yet."""
    if invitation.viewed_at is not None:
        return invitation
    invitation.viewed_at = utcnow()
    if invitation.status == InvitationStatus.QUEUED:
        invitation.status = InvitationStatus.VIEWED
    audit.record(
        "invitation.view",
        meeting=invitation.meeting,
        obj=invitation,
        summary=f"{invitation.organization.name_en} opened its invitation",
        actor=_delegation(invitation),
    )
    return invitation


def accept(invitation) -> Invitation:
    _refuse_answer_if_closed(invitation)
    if invitation.status == InvitationStatus.ACCEPTED:
        return invitation
    previous = invitation.status
    now = utcnow()
    invitation.viewed_at = invitation.viewed_at or now
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = now
    invitation.decline_reason = ""
    audit.record(
        "invitation.accept",
        meeting=invitation.meeting,
        obj=invitation,
        summary=f"{invitation.organization.name_en} accepted the invitation",
        details={"from": previous},
        actor=_delegation(invitation),
    )
    return invitation


def decline(invitation, reason="") -> Invitation:
    """Record the refusal and tell the organizers of the meeting (every active organizer account)."""
    _refuse_answer_if_closed(invitation)
    reason = (reason or "").strip()
    if len(reason) > REASON_LENGTH:
        message = _("The reason can have at most %(n)d characters.", n=REASON_LENGTH)
        raise DomainError(message, fields={"reason": [message]})
    if invitation.status == InvitationStatus.DECLINED:
        return invitation
    previous = invitation.status
    now = utcnow()
    meeting, organization = invitation.meeting, invitation.organization
    invitation.viewed_at = invitation.viewed_at or now
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = now
    invitation.decline_reason = reason
    organizers = db.session.scalars(
        db.select(User.email)
        .where(User.active.is_(True), User.role.in_([Role.ADMIN, Role.ORGANIZER]))
        .order_by(User.id)
    ).all()
    if organizers:
        queue_email(
            "invitation_declined",
            to=organizers,
            language=current_app.config["BABEL_DEFAULT_LOCALE"],
            subject=_l(
                "%(organization)s declined the invitation to the %(title)s",
                organization=_recipient_name(organization, "en"),
                title=meeting.lazy_localized("title"),
            ),
            context={
                "organization_name": organization.name_en,
                "reason": reason,
                "link": external_url(
                    "invitations_manage.show_invitation", slug=meeting.slug, invitation_id=invitation.id
                ),
            },
            meeting=meeting,
            cause="invitation.declined",
            cause_object=invitation,
        )
    audit.record(
        "invitation.decline",
        meeting=meeting,
        obj=invitation,
        summary=f"{organization.name_en} declined the invitation",
        details={"from": previous, "reason": reason},
        actor=_delegation(invitation),
    )
    return invitation


# What organizers see ---------------------------------------------------------------------------


def _latest_email(column):
    """`column` of the invitation's latest email to the delegation, as a subquery correlated to
    the invitation (found through the outbox's index on the cause object)."""
    return (
        db.select(column)
        .where(
            OutboxMessage.cause_object_type == Invitation.__name__,
            OutboxMessage.cause_object_id == Invitation.id,
            OutboxMessage.cause.in_(DELIVERY_CAUSES),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .correlate(Invitation)
        .scalar_subquery()
    )


def _shown_status():
    """The status to show: a queued invitation is "sent" or "failed" as its latest email is (an email
    cancelled in the outbox never reached anyone, so it counts as failed)."""
    email_status = _latest_email(OutboxMessage.status)
    queued = Invitation.status == InvitationStatus.QUEUED
    return case(
        (and_(queued, email_status == OutboxStatus.SENT), InvitationStatus.SENT.value),
        (
            and_(queued, email_status.in_([OutboxStatus.FAILED, OutboxStatus.CANCELLED])),
            InvitationStatus.FAILED.value,
        ),
        else_=Invitation.status,
    )


def _with_delivery():
    return (
        with_expression(Invitation.shown_status, _shown_status()),
        with_expression(Invitation.email_sent_at, _latest_email(OutboxMessage.sent_at)),
    )


def _registered_count():
    """How many active registrations (pending, confirmed, waitlisted) came through the invitation, as
    a subquery correlated to the invitation."""
    return (
        db.select(func.count(Registration.id))
        .where(Registration.invitation_id == Invitation.id, Registration.status.in_(ACTIVE_STATUSES))
        .correlate(Invitation)
        .scalar_subquery()
    )


def counts_by_status(meeting) -> dict[str, int]:
    """How many invitations of the meeting show each status (one query)."""
    shown = db.select(_shown_status().label("status")).where(Invitation.meeting_id == meeting.id).subquery("shown")
    rows = db.session.execute(db.select(shown.c.status, func.count()).group_by(shown.c.status))
    counts = {status.value: 0 for status in InvitationStatus}
    counts.update({status: count for status, count in rows})
    return counts


def invitations_page(meeting, *, status=None, kind=None, page=1, per_page=None):
    """A page of the meeting's invitations in alphabetical order of the organizations, with the status
    and sending time of their latest email and the number registered through each; optionally only
    those showing `status` or of `kind`."""
    query = (
        db.select(Invitation)
        .join(Invitation.organization)
        .where(Invitation.meeting_id == meeting.id)
        .options(
            contains_eager(Invitation.organization),
            *_with_delivery(),
            with_expression(Invitation.registered, _registered_count()),
        )
    )
    if status in set(InvitationStatus):
        query = query.where(_shown_status() == status)
    if kind in set(OrganizationKind):
        query = query.where(Organization.kind == kind)
    query = query.order_by(Organization.search_text, Invitation.id)
    per_page = per_page or current_app.config["PER_PAGE"]
    return db.paginate(query, page=page, per_page=per_page, max_per_page=200, error_out=False)


def get_invitation(meeting, invitation_id) -> Invitation:
    invitation = db.session.scalar(
        db.select(Invitation)
        .where(Invitation.id == invitation_id, Invitation.meeting_id == meeting.id)
        .options(selectinload(Invitation.organization).selectinload(Organization.contacts), *_with_delivery())
    )
    if invitation is None:
        raise NotFound(_("There is no such invitation for this meeting."))
    return invitation


def invitation_emails(invitation) -> list[OutboxMessage]:
    """Every email about the invitation (to the delegation and to the organizers), newest first."""
    return db.session.scalars(
        db.select(OutboxMessage)
        .where(OutboxMessage.cause_object_type == Invitation.__name__, OutboxMessage.cause_object_id == invitation.id)
        .options(defer(OutboxMessage.body_text, raiseload=True), defer(OutboxMessage.body_html, raiseload=True))
        .order_by(OutboxMessage.id.desc())
    ).all()
