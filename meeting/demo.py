"""`flask demo`: seeds a meeting modelled on the Ad hoc Informal Meeting on the Protection of
Audiovisual Performances (WIPO, Geneva, 6 and 7 November 2003), with its dates moved four weeks
ahead so that registration is open, the directory of States, a few IGOs and NGOs, and an
organizer account. Every object is looked up before it is created, so running it twice changes
nothing."""

from datetime import date, datetime, time, timedelta

import click
from flask.cli import with_appcontext

from .accounts.models import User
from .accounts.services import create_organizer
from .core.models import utcnow
from .core.timeutil import to_utc
from .directory.models import Accreditation, Contact, Organization, OrganizationKind
from .directory.services import seed_states
from .extensions import db
from .meetings.models import Meeting, MeetingKind, MeetingStatus, ProgramSession, SessionKind

DEMO_SLUG = "avp-informal"
DEMO_ORGANIZER = "organizer@meeting.example"
DEMO_PASSWORD = "geneva-demo-2026"
TIMEZONE = "Europe/Zurich"

DESCRIPTION = """\
The meeting is convened by the Secretariat after informal consultations with Member States, to \
exchange views on the protection of audiovisual performances.

An information session opens the meeting: invited speakers talk about their experience of \
performing, creating and producing audiovisual works. The Secretariat has prepared four \
background studies: a survey of national legislation on the protection of audiovisual \
performances; a study on the transfer of rights and private international law; and two studies \
on performers' contracts and remuneration in selected countries.

The meeting is open to the delegations of Member States and, as observers, to representatives \
of intergovernmental and non-governmental organizations."""

# (kind, English, French, Spanish, acronym, accreditation, focal-point email)
ORGANIZATIONS = [
    (
        OrganizationKind.IGO,
        "International Labour Organization",
        "Organisation internationale du Travail",
        "Organización Internacional del Trabajo",
        "ILO",
        Accreditation.PERMANENT_OBSERVER,
        "observers@ilo.example",
    ),
    (
        OrganizationKind.IGO,
        "United Nations Educational, Scientific and Cultural Organization",
        "Organisation des Nations Unies pour l'éducation, la science et la culture",
        "Organización de las Naciones Unidas para la Educación, la Ciencia y la Cultura",
        "UNESCO",
        Accreditation.PERMANENT_OBSERVER,
        "observers@unesco.example",
    ),
    (
        OrganizationKind.IGO,
        "European Union",
        "Union européenne",
        "Unión Europea",
        "EU",
        Accreditation.PERMANENT_OBSERVER,
        "delegation-geneva@eu.example",
    ),
    (
        OrganizationKind.NGO,
        "International Federation of Screen Performers",
        "Fédération internationale des artistes de l'écran",
        "Federación Internacional de Artistas de la Pantalla",
        "IFSP",
        Accreditation.PERMANENT_OBSERVER,
        "secretariat@ifsp.example",
    ),
    (
        OrganizationKind.NGO,
        "Global Alliance of Audiovisual Producers",
        "Alliance mondiale des producteurs audiovisuels",
        "Alianza Mundial de Productores Audiovisuales",
        "GAAP",
        Accreditation.AD_HOC,
        "office@gaap.example",
    ),
    (
        OrganizationKind.NGO,
        "Association of Film Directors and Screenwriters",
        "Association des réalisateurs et scénaristes",
        "Asociación de Directores y Guionistas de Cine",
        "AFDS",
        Accreditation.NONE,
        "contact@afds.example",
    ),
]

# (day index, local start, local end, kind, title, room)
SESSIONS = [
    (0, time(10, 0), time(10, 30), SessionKind.OPENING, "Opening of the meeting", "Room A"),
    (
        0,
        time(10, 30),
        time(13, 0),
        SessionKind.INFORMATION_SESSION,
        "Information session: performing, creating and producing audiovisual works",
        "Room A",
    ),
    (0, time(15, 0), time(18, 0), SessionKind.DISCUSSION, "General discussion", "Room A"),
    (1, time(10, 0), time(13, 0), SessionKind.DISCUSSION, "Discussion of the background studies", "Room A"),
    (1, time(15, 0), time(16, 30), SessionKind.CLOSING, "Closing of the meeting", "Room A"),
]


def seed_demo(today: date | None = None) -> dict[str, int]:
    """Create what is missing of the demo; return how many objects of each kind were added."""
    today = today or date.today()
    added = {"states": seed_states(), "organizations": 0, "meetings": 0, "sessions": 0, "organizers": 0}

    for kind, name_en, name_fr, name_es, acronym, accreditation, email in ORGANIZATIONS:
        exists = db.session.scalar(
            db.select(Organization.id).where(Organization.kind == kind, Organization.name_en == name_en)
        )
        if exists is None:
            organization = Organization(
                kind=kind,
                name_en=name_en,
                name_fr=name_fr,
                name_es=name_es,
                acronym=acronym,
                accreditation=accreditation,
                contacts=[Contact(email=email)],
            )
            db.session.add(organization)
            added["organizations"] += 1

    if db.session.scalar(db.select(Meeting.id).where(Meeting.slug == DEMO_SLUG)) is None:
        starts_on = today + timedelta(weeks=4)
        meeting = Meeting(
            slug=DEMO_SLUG,
            symbol_prefix="AVP/IM/03",
            title="Ad hoc Informal Meeting on the Protection of Audiovisual Performances",
            kind=MeetingKind.AD_HOC_INFORMAL,
            description=DESCRIPTION,
            venue="WIPO Headquarters, 34 chemin des Colombettes",
            city="Geneva",
            timezone=TIMEZONE,
            starts_on=starts_on,
            ends_on=starts_on + timedelta(days=1),
            chair="The Chairman of the WIPO General Assembly",
            status=MeetingStatus.PUBLISHED,
            published_at=utcnow(),
            registration_opens_at=to_utc(datetime.combine(today, time(0, 0)), TIMEZONE),
            registration_closes_at=to_utc(datetime.combine(starts_on - timedelta(days=1), time(18, 0)), TIMEZONE),
            capacity=250,
            per_delegation_limit=6,
            languages="en,fr,es",
        )
        for day, start, end, kind, title, room in SESSIONS:
            local_day = starts_on + timedelta(days=day)
            meeting.sessions.append(
                ProgramSession(
                    title=title,
                    kind=kind,
                    room=room,
                    starts_at=to_utc(datetime.combine(local_day, start), TIMEZONE),
                    ends_at=to_utc(datetime.combine(local_day, end), TIMEZONE),
                )
            )
        db.session.add(meeting)
        added["meetings"] += 1
        added["sessions"] += len(SESSIONS)

    if db.session.scalar(db.select(User.id).where(User.email == DEMO_ORGANIZER)) is None:
        create_organizer(DEMO_ORGANIZER, DEMO_PASSWORD, name="Demo Organizer", admin=True)
        added["organizers"] += 1
    db.session.flush()
    return added


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Seed only when the database holds no meeting yet.")
def demo_command(if_empty):
    """Seed the demo meeting (slug avp-informal); running it again adds nothing."""
    if if_empty and db.session.scalar(db.select(Meeting.id).limit(1)) is not None:
        click.echo("The database already holds meetings; the demo was not seeded.")
    else:
        added = seed_demo()
        db.session.commit()
        if any(added.values()):
            click.echo("Demo seeded: " + ", ".join(f"{count} {what}" for what, count in added.items()))
        else:
            click.echo("The demo is already there; nothing was added.")
    organizer = db.session.scalar(db.select(User).where(User.email == DEMO_ORGANIZER))
    if organizer is not None:
        if organizer.check_password(DEMO_PASSWORD):
            click.echo(f"Organizer login: {DEMO_ORGANIZER} / {DEMO_PASSWORD}  (sign in at /login)")
        else:
            click.echo(f"Organizer login: {DEMO_ORGANIZER} (its password has been changed)")
