"""`flask organizer create` and `flask organizer token`."""

import click
from flask.cli import AppGroup

from ..core.errors import DomainError
from ..extensions import db
from . import services
from .models import User

organizer_command = AppGroup("organizer", help="Manage organizer accounts.")


@organizer_command.command("create")
@click.argument("email")
@click.option("--password", help="Asked for when not given.")
@click.option("--name", default="", help="The organizer's name.")
@click.option("--admin", is_flag=True, help="Allow managing other organizer accounts.")
def create(email, password, name, admin):
    """Create an organizer account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_organizer(email, password, name=name, admin=admin)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}.")


@organizer_command.command("token")
@click.argument("email")
@click.option("--name", "label", default="command line", help="A label for the token.")
def token(email, label):
    """Issue an API token for an organizer and print it once."""
    user = db.session.scalar(db.select(User).where(User.email == services.normalize_email(email)))
    if user is None:
        raise click.ClickException(f"No organizer with the email {email}.")
    _, plain = services.issue_api_token(user, label)
    db.session.commit()
    click.echo(plain)
