"""The organizers' directory pages: search and filter the list, add and edit organizations,
deactivate and reactivate them."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core.errors import DomainError
from ..core.manage import manage_blueprint
from ..extensions import db
from . import services
from .forms import ACCREDITATION_LABELS, KIND_LABELS, DirectorySearchForm, OrganizationForm

manage_bp = manage_blueprint("directory", __name__, "/directory")


@manage_bp.get("/")
def list_organizations():
    search = DirectorySearchForm(request.args)
    page = services.search_organizations(
        search.q.data or "",
        kind=search.kind.data or "",
        status=search.status.data or "all",
        page=request.args.get("page", 1, type=int),
    )
    filters = _list_arguments(request.args, with_page=False)
    return render_template(
        "directory/list.html",
        search=search,
        page=page,
        filters=filters,
        kind_labels=KIND_LABELS,
        accreditation_labels=ACCREDITATION_LABELS,
    )


def _list_arguments(args, with_page=True):
    names = ("q", "kind", "status", "page") if with_page else ("q", "kind", "status")
    return {name: args[name] for name in names if args.get(name)}


def _details(form: OrganizationForm) -> services.OrganizationDetails:
    return services.OrganizationDetails(
        kind=form.kind.data,
        name_en=form.name_en.data,
        name_fr=form.name_fr.data or "",
        name_es=form.name_es.data or "",
        acronym=form.acronym.data or "",
        iso_code=form.iso_code.data or "",
        accreditation=form.accreditation.data,
        preferred_language=form.preferred_language.data,
        emails=services.split_email_lines(form.emails.data),
    )


def _show_problems(form: OrganizationForm, error: DomainError):
    """Put the service's field messages next to the fields; anything else is flashed."""
    unplaced = False
    for name, messages in error.fields.items():
        if name in form:
            form[name].errors = [*form[name].errors, *messages]
        else:
            unplaced = True
    if unplaced or not error.fields:
        flash(error.message, "error")


@manage_bp.route("/new", methods=["GET", "POST"])
def create_organization():
    form = OrganizationForm()
    if form.validate_on_submit():
        try:
            organization = services.create_organization(_details(form))
        except DomainError as error:
            _show_problems(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s has been added to the directory.", name=organization.name_en), "success")
            return redirect(url_for(".list_organizations", q=organization.name_en))
    status = 422 if request.method == "POST" else 200
    return render_template("directory/form.html", form=form, organization=None), status


@manage_bp.route("/<int:organization_id>/edit", methods=["GET", "POST"])
def edit_organization(organization_id):
    organization = services.get_organization(organization_id)
    form = OrganizationForm(obj=organization)
    if request.method == "GET":
        form.iso_code.data = organization.iso_code or ""
        form.emails.data = "\n".join(organization.focal_point_emails)
    if form.validate_on_submit():
        try:
            services.update_organization(organization.id, _details(form))
        except DomainError as error:
            _show_problems(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s has been saved.", name=organization.name_en), "success")
            return redirect(url_for(".list_organizations", q=organization.name_en))
    status = 422 if request.method == "POST" else 200
    return render_template("directory/form.html", form=form, organization=organization), status


def _back_to_list():
    """The list page the organizer came from: the buttons carry its search, filters and page."""
    return url_for(".list_organizations", **_list_arguments(request.args))


@manage_bp.post("/<int:organization_id>/deactivate")
def deactivate_organization(organization_id):
    organization = services.set_organization_active(organization_id, False)
    db.session.commit()
    flash(_("%(name)s has been deactivated.", name=organization.name_en), "success")
    return redirect(_back_to_list())


@manage_bp.post("/<int:organization_id>/reactivate")
def reactivate_organization(organization_id):
    organization = services.set_organization_active(organization_id, True)
    db.session.commit()
    flash(_("%(name)s is active again.", name=organization.name_en), "success")
    return redirect(_back_to_list())
