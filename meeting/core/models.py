"""Column types and mixins shared by the models of every module, and the texts entered in several
languages (`Translatable`)."""

from datetime import UTC, datetime

from flask_babel import get_locale
from flask_babel.speaklater import LazyString
from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from .i18n import language_name


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so naive values coming back are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def current_language() -> str | None:
    """The language in force: the page's in a request, the recipient's while an email is rendered
    (`force_locale`); None outside the application."""
    locale = get_locale()
    return locale.language if locale is not None else None


def paragraphs(text: str | None) -> list[list[str]]:
    """Plain text as paragraphs (separated by blank lines), each a list of lines; the template
    escapes them, so a description can never inject markup."""
    result, current = [], []
    for line in (text or "").splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


class LocalizedText(str):
    """A text together with the language it is written in. `is_fallback` says that it stands in for a
    translation the reader's language lacks: it is then in the meeting's main language, and a page
    marks it so (`lang` for screen readers, a note for the eye: the `localized` macro of ui.html)."""

    language: str
    is_fallback: bool

    def __new__(cls, text: str, language: str, is_fallback: bool = False):
        value = super().__new__(cls, text)
        value.language = language
        value.is_fallback = is_fallback
        return value

    def __getnewargs__(self):
        return str(self), self.language, self.is_fallback

    @property
    def text(self) -> str:
        return str(self)

    @property
    def language_name(self) -> str:
        """The name of the text's language, in the language in force ("Inglés" on a Spanish page)."""
        return language_name(self.language, current_language() or self.language)

    @property
    def paragraphs(self) -> list[list[str]]:
        return paragraphs(self)


class Translatable:
    """Texts entered in each language a meeting offers (what Indico lacks).

    The model's own columns (`translatable_fields`) hold the meeting's main language, the first it
    offers; `translations` holds the others: {"fr": {"title": "…"}, "es": {…}}. `localized()` gives
    the text in the reader's language, or the main language's marked as a fallback. A translation
    kept for a language the meeting no longer offers stays stored but unused (offering the language
    again brings it back). The dict is replaced, never changed in place, so that the ORM sees it."""

    translatable_fields: tuple[str, ...] = ()

    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    @property
    def content_languages(self) -> list[str]:
        """The meeting's languages, the main one first."""
        raise NotImplementedError

    @property
    def main_language(self) -> str:
        return self.content_languages[0]

    def translation(self, field: str, language: str) -> str:
        """What was entered for `field` in `language` ("" when nothing was)."""
        return ((self.translations or {}).get(language) or {}).get(field) or ""

    def localized(self, field: str, language: str | None = None) -> LocalizedText:
        """`field` in `language` (by default the language in force, see `current_language`) when the
        meeting offers it and a translation was entered; otherwise in the main language, marked as a
        fallback if that is not the language asked for."""
        language = language or current_language()
        main, *others = self.content_languages
        if language in others:
            text = self.translation(field, language)
            if text.strip():
                return LocalizedText(text, language)
        return LocalizedText(getattr(self, field) or "", main, is_fallback=bool(language) and language != main)

    def lazy_localized(self, field: str) -> LazyString:
        """`field` in the language in force when the text is used: for an email's subject, which is
        made once per recipient language under `force_locale`."""
        return LazyString(self.localized, field)


def apply_changes(obj, values: dict) -> dict:
    """Set on `obj` the values that differ from its own; return them as {name: (old, new)}, for the
    audit log and for deciding what else must follow (emails, calendar sequence...)."""
    changes = {name: (getattr(obj, name), value) for name, value in values.items() if getattr(obj, name) != value}
    for name, (_old, new) in changes.items():
        setattr(obj, name, new)
    return changes
