"""`flask directory import FILE.csv`."""

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from ..extensions import db
from . import services

directory_command = AppGroup("directory", help="Manage the directory of organizations.")


@directory_command.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path):
    """Import organizations from a UTF-8 CSV file.

    The header row names the columns, in any order: kind and name_en are required; name_fr,
    name_es, acronym, iso_code, emails (separated by ; or spaces), accreditation and
    preferred_language are optional. Nothing is imported when any line is wrong."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path} is not UTF-8 text (byte {error.start}).") from None
    try:
        # Messages in English: the command line has no visitor whose language could be chosen.
        with force_locale("en"):
            result = services.import_organizations(services.read_organizations_csv(text))
    except services.ImportRejected as rejected:
        for line, reason in rejected.problems:
            click.echo(f"line {line}: {reason}", err=True)
        raise click.ClickException(rejected.message) from None
    db.session.commit()
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged.")
