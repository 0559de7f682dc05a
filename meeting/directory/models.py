"""The directory of organizations that can be invited: Member States, observer States, IGOs,
NGOs and others, each with names in English, French and Spanish and focal-point contacts."""

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import TimestampMixin
from ..extensions import db


class OrganizationKind(StrEnum):
    MEMBER_STATE = "member_state"
    OBSERVER_STATE = "observer_state"
    IGO = "igo"
    NGO = "ngo"
    OTHER = "other"


class Accreditation(StrEnum):
    PERMANENT_OBSERVER = "permanent_observer"
    AD_HOC = "ad_hoc"
    NONE = "none"


STATE_KINDS = (OrganizationKind.MEMBER_STATE, OrganizationKind.OBSERVER_STATE)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class _Named:
    """Names in English, French and Spanish, and whether it is a State (`kind`)."""

    __slots__ = ()

    def name(self, language: str = "en") -> str:
        """The name in `language`, falling back to English."""
        return getattr(self, f"name_{language}", "") or self.name_en

    @property
    def is_state(self) -> bool:
        return self.kind in STATE_KINDS


@dataclass(frozen=True, slots=True)
class DirectoryEntry(_Named):
    """What the registration form lists of an organization: read as a row, not an Organization,
    since every delegate opening the form when registration opens has the whole directory listed."""

    id: int
    kind: str
    name_en: str
    name_fr: str
    name_es: str
    acronym: str


class Organization(_Named, TimestampMixin, db.Model):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(_in("kind", OrganizationKind), name="kind"),
        CheckConstraint(_in("accreditation", Accreditation), name="accreditation"),
        CheckConstraint("preferred_language IN ('en', 'fr', 'es')", name="preferred_language"),
        Index("ix_organizations_kind_name_en", "kind", "name_en"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(300))
    name_fr: Mapped[str] = mapped_column(String(300), default="")
    name_es: Mapped[str] = mapped_column(String(300), default="")
    acronym: Mapped[str] = mapped_column(String(40), default="")
    # ISO 3166-1 alpha-2, for States only.
    iso_code: Mapped[str | None] = mapped_column(String(2), unique=True)
    accreditation: Mapped[str] = mapped_column(String(30), default=Accreditation.NONE)
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    active: Mapped[bool] = mapped_column(default=True)
    # The names and the acronym folded by `search_key`, kept up to date on every flush: SQLite
    # folds only ASCII letters and neither database ignores accents, so searches match this.
    search_text: Mapped[str] = mapped_column(Text, default="")

    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="organization", order_by="Contact.id", cascade="all, delete-orphan"
    )

    @property
    def focal_point_emails(self) -> list[str]:
        return [contact.email for contact in self.contacts]


@lru_cache(maxsize=4096)
def search_key(text: str) -> str:
    """`text` without case, accents or typographic apostrophes: "Côte d’Ivoire" -> "cote d'ivoire".

    Remembered: the registration form sorts the whole directory by it for every delegate who opens
    it, and the names are the same from one delegate to the next."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.replace("\u2019", "'").replace("\u02bc", "'").replace("\u2018", "'").casefold()


@event.listens_for(Organization, "before_insert")
@event.listens_for(Organization, "before_update")
def _refresh_search_text(mapper, connection, organization):
    names = (organization.name_en, organization.name_fr, organization.name_es, organization.acronym)
    organization.search_text = "\n".join(search_key(name) for name in names if name)


class Contact(db.Model):
    """A focal point of an organization (for a State, usually its Permanent Mission)."""

    __tablename__ = "contacts"
    __table_args__ = (db.UniqueConstraint("organization_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")

    organization: Mapped[Organization] = relationship(back_populates="contacts")
