"""What organizers do with their accounts: sign in (with lockout after repeated failures),
change their password, issue and revoke API tokens; what admins do: create organizers."""

from datetime import timedelta

from flask import current_app
from flask_babel import format_time
from flask_babel import gettext as _

from ..core.errors import Conflict, DomainError, NotFound
from ..core.models import utcnow
from ..core.tokens import hash_token, new_token
from ..extensions import db
from .models import ApiToken, Role, User

MIN_PASSWORD_LENGTH = 10


class SignInRefused(DomainError):
    code = "sign_in_refused"
    status = 401


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            fields={"password": ["too short"]},
        )


def create_organizer(email, password, *, name="", admin=False) -> User:
    email = normalize_email(email)
    if not email or "@" not in email or any(c in email for c in "\r\n "):
        raise DomainError(_("Give a valid email address."), fields={"email": ["invalid"]})
    if db.session.scalar(db.select(User.id).where(User.email == email)) is not None:
        raise Conflict(_("An organizer with this email address already exists."))
    check_password_strength(password)
    user = User(email=email, name=name.strip(), role=Role.ADMIN if admin else Role.ORGANIZER)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def sign_in(email, password) -> User:
    """Check the credentials. A failure is counted on the account, which the caller must commit
    even though this raises; after LOGIN_MAX_FAILURES the account is locked for a while."""
    user = db.session.scalar(db.select(User).where(User.email == normalize_email(email)))
    now = utcnow()
    if user is not None and user.is_locked(now):
        raise SignInRefused(
            _(
                "This account is locked after too many failed sign-ins. Try again after %(time)s (UTC).",
                time=format_time(user.locked_until.replace(tzinfo=None), "short"),
            )
        )
    if user is None or not user.check_password(password or ""):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
                user.failed_logins = 0
                user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
        raise SignInRefused(_("The email address or the password is not correct."))
    if not user.active:
        raise SignInRefused(_("This account has been deactivated. Ask an administrator."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def change_password(user, current_password, new_password) -> None:
    if not user.check_password(current_password or ""):
        raise DomainError(_("The current password is not correct."), fields={"current_password": ["wrong"]})
    check_password_strength(new_password)
    user.set_password(new_password)


def issue_api_token(user, label) -> tuple[ApiToken, str]:
    """A new token for `user`; the plain value is returned once and only its hash is kept."""
    label = (label or "").strip() or _("API token")
    plain = new_token()
    token = ApiToken(user=user, label=label[:100], token_hash=hash_token(plain))
    db.session.add(token)
    db.session.flush()
    return token, plain


def revoke_api_token(user, token_id) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("There is no such token."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def user_for_api_token(plain) -> tuple[User, ApiToken] | None:
    """The active organizer a bearer token belongs to, or None for an unknown or revoked token."""
    if not plain:
        return None
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == hash_token(plain)))
    if token is None or token.is_revoked or not token.user.is_organizer:
        return None
    token.last_used_at = utcnow()
    return token.user, token


def set_organizer_active(admin, user_id, active) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no such organizer."))
    if user.id == admin.id and not active:
        raise DomainError(_("You cannot deactivate your own account."))
    user.active = active
    return user


def organizers():
    return db.session.scalars(db.select(User).order_by(User.email)).all()
