"""Language of the page: the visitor's choice (remembered in the session), else the browser's
Accept-Language, else English. Country and territory names come from Babel's locale data."""

from babel import Locale
from flask import current_app, g, has_request_context, request, session


def get_locale():
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # command line, delivery worker
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    # The browser's languages in its order of preference, a regional variant (fr-CH) counting for
    # its language: werkzeug's best_match would prefer a lower-ranked exact "en" to a first "fr-CH".
    for value, _quality in request.accept_languages:
        primary = value.split("-")[0].split("_")[0].lower()
        if primary in languages:
            return primary
    # No choice and no browser preference: a meeting's page speaks the meeting's main language. The
    # meetings module provides that lookup, so that core depends on no feature module.
    # Looked up once per request: force_locale() makes Flask-Babel ask again for every email or row.
    if "default_language" not in g:
        for_request = current_app.extensions.get("default_language_for_request")
        g.default_language = for_request() if for_request else None
    return g.default_language if g.default_language in languages else languages[0]


def remember_default_language(language: str | None) -> None:
    """Tell `get_locale` the main language of the meeting whose page is asked for, when the view has
    the meeting at hand anyway: the lookup of `default_language_for_request` is then saved."""
    if has_request_context() and "default_language" not in g:
        g.default_language = language


def territory_name(code: str, language: str) -> str:
    return Locale.parse(language).territories.get(code.upper(), code.upper())


def language_name(code: str, in_language: str | None = None, *, in_sentence: bool = False) -> str:
    """The name of a language in `in_language` (by default in itself), capitalised as a label or an
    item of a list is ("Français"); `in_sentence` keeps the case the language gives it inside a
    sentence ("disponible en français", "available in English")."""
    name = Locale.parse(code).get_display_name(in_language or code) or code
    return name if in_sentence else name[:1].upper() + name[1:]
