"""The French and Spanish catalogs: complete, up to date with the code, and faithful to its
placeholders — and pages, dates and emails actually change language."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from meeting.invitations.models import STATUS_LABELS as INVITATION_STATUS
from meeting.mail.forms import STATUS_LABELS as EMAIL_STATUS
from meeting.meetings.models import MEETING_STATUS_LABELS
from meeting.registration.models import STATUS_LABELS as REGISTRATION_STATUS

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\([a-zA-Z_]+\)[sdfr]|%[sdfr]")


def messages(path, locale=None):
    """The messages of a catalog by (context, id): the same words may be translated differently in
    two contexts ("Cancelled" is "Annulée" for a registration, "Annulé" for an email)."""
    with open(path, "rb") as f:
        return {(message.context, message.id): message for message in read_po(f, locale=locale) if message.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """What the code and templates ask to translate now, extracted as `make i18n` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
         "-k", "lazy_ngettext:1,2", "-k", "_lp:1c,2", "-k", "lazy_pgettext:1c,2",
         "--no-location", "--sort-output", "-o", str(pot), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    return messages(pot)


@pytest.mark.parametrize("language", ["fr", "es"])
def test_catalog_holds_exactly_the_strings_of_the_code(extracted, language):
    catalog = messages(ROOT / "translations" / language / "LC_MESSAGES" / "messages.po", language)
    missing = sorted(str(key) for key in set(extracted) - set(catalog))
    stale = sorted(str(key) for key in set(catalog) - set(extracted))
    assert not missing, f"run `make i18n` and translate: {missing[:10]}"
    assert not stale, f"run `make i18n`: the catalog holds strings the code no longer has: {stale[:10]}"


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_string_is_translated_with_its_placeholders(language):
    path = ROOT / "translations" / language / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as f:
        catalog = read_po(f, locale=language)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s and s.strip() for s in strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        expected = set(PLACEHOLDER.findall(ids[0])) | set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            found = set(PLACEHOLDER.findall(text))
            if not found <= expected or (len(ids) == 1 and found != expected):
                problems.append(f"placeholders {sorted(found)} instead of {sorted(expected)}: {ids[0]!r}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", {"registration": "Annulée", "email": "Annulé", "invitation": "Envoyée", "sent email": "Envoyé"}),
        ("es", {"registration": "Cancelada", "email": "Cancelado", "invitation": "Enviada", "sent email": "Enviado"}),
    ],
)
def test_a_status_agrees_with_what_it_is_the_status_of(app, language, expected):
    """French and Spanish status words take the gender of their noun: an inscription/inscripción and
    an invitation/invitación are feminine, a courriel/correo masculine, a réunion/reunión feminine."""
    with app.test_request_context(), force_locale(language):
        assert str(REGISTRATION_STATUS["cancelled"]) == expected["registration"]
        assert str(EMAIL_STATUS["cancelled"]) == expected["email"]
        assert str(INVITATION_STATUS["sent"]) == expected["invitation"]
        assert str(EMAIL_STATUS["sent"]) == expected["sent email"]
        assert str(MEETING_STATUS_LABELS["published"]) == {"fr": "Publiée", "es": "Publicada"}[language]
