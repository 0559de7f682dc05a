"""Sign-in and sign-out (public), and the organizer's own account page under /manage."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from ..core.errors import DomainError
from ..core.manage import manage_blueprint
from ..core.web import record_id, safe_next
from ..extensions import db
from . import services
from .forms import ApiTokenForm, ChangePasswordForm, LoginForm, OrganizerForm
from .models import User

bp = Blueprint("accounts", __name__)
manage_bp = manage_blueprint("accounts", __name__)

LOGIN_MESSAGE = _l("Please sign in as an organizer to open this page.")


def load_user(user_id):
    user = db.session.get(User, number) if (number := record_id(user_id)) is not None else None
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.args.get("next"), url_for("meetings_manage.list_meetings"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            user = services.sign_in(form.email.data, form.password.data)
        except services.SignInRefused as refused:
            db.session.commit()  # keep the failure count
            flash(refused.message, "error")
        else:
            db.session.commit()
            login_user(user)
            flash(_("Welcome, %(name)s.", name=user.name or user.email), "success")
            return redirect(next_url)
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash(_("You have signed out."), "success")
    return redirect(url_for("meetings.index"))


@manage_bp.get("/account")
def account():
    return render_template(
        "accounts/account.html",
        password_form=ChangePasswordForm(),
        token_form=ApiTokenForm(),
        tokens=current_user.api_tokens,
        new_token=None,
    )


@manage_bp.post("/account/password")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.password.data)
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect(url_for(".account"))
    return render_template(
        "accounts/account.html",
        password_form=form,
        token_form=ApiTokenForm(),
        tokens=current_user.api_tokens,
        new_token=None,
    ), 422


@manage_bp.post("/account/tokens")
def create_token():
    form = ApiTokenForm()
    new_token = None
    if form.validate_on_submit():
        token, new_token = services.issue_api_token(current_user, form.label.data)
        db.session.commit()
        flash(_("Copy the token now: it will not be shown again."), "warning")
        form = ApiTokenForm(formdata=None)
    return render_template(
        "accounts/account.html",
        password_form=ChangePasswordForm(formdata=None),
        token_form=form,
        tokens=current_user.api_tokens,
        new_token=new_token,
    ), 200 if new_token else 422


@manage_bp.post("/account/tokens/<int:token_id>/revoke")
def revoke_token(token_id):
    token = services.revoke_api_token(current_user, token_id)
    db.session.commit()
    flash(_("The token “%(label)s” has been revoked.", label=token.label), "success")
    return redirect(url_for(".account"))


def require_admin():
    if not current_user.is_admin:
        abort(403)


@manage_bp.route("/organizers", methods=["GET", "POST"])
def organizers():
    require_admin()
    form = OrganizerForm()
    if form.validate_on_submit():
        try:
            user = services.create_organizer(
                form.email.data, form.password.data, name=form.name.data or "", admin=form.admin.data
            )
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("The account for %(email)s has been created.", email=user.email), "success")
            return redirect(url_for(".organizers"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/organizers.html", form=form, users=services.organizers()), status


@manage_bp.post("/organizers/<int:user_id>/active")
def set_organizer_active(user_id):
    require_admin()
    active = request.form.get("active") == "1"
    user = services.set_organizer_active(current_user, user_id, active)
    db.session.commit()
    if active:
        flash(_("%(email)s can sign in again.", email=user.email), "success")
    else:
        flash(_("%(email)s has been deactivated.", email=user.email), "success")
    return redirect(url_for(".organizers"))
