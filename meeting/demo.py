"""`flask demo`: seeds a meeting modelled on the Ad hoc Informal Meeting on the Protection of
Audiovisual Performances (WIPO, Geneva, 6 and 7 November 2003), with its dates moved four weeks
ahead so that registration is open, the directory of States, a few IGOs and NGOs, and an
organizer account, its agenda and four background studies (sample PDF files in English and
French), and the program of its information session: four confirmed (fictional)
speakers on performing, creating and producing audiovisual works between an opening statement, a
discussion and a closing statement, published. Every object is looked up before it is created, so
running it twice changes nothing."""

from datetime import date, datetime, time, timedelta

import click
from flask.cli import with_appcontext

from .accounts.models import User
from .accounts.services import create_organizer
from .core.models import utcnow
from .core.timeutil import to_local, to_utc
from .directory.models import Accreditation, Contact, Organization, OrganizationKind
from .directory.services import seed_states
from .documents.demo import seed_documents
from .extensions import db
from .meetings.models import Meeting, MeetingKind, MeetingStatus, ProgramSession, SessionKind
from .program.models import OfferStatus, Perspective, ProgramState, Slot, SlotKind, Speaker, SpeakerOffer

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


# The invited speakers (fictional): (name, affiliation, perspective, email, language, timezone, biography)
SPEAKERS = [
    (
        "Amara Okafor",
        "Screen and stage actress; performers' union delegate, Lagos",
        Perspective.PERFORMER,
        "amara.okafor@speakers.example",
        "en",
        "Africa/Lagos",
        "Actress in **film and television** for twenty years, and a delegate of her national performers' "
        "union in negotiations with broadcasters.",
    ),
    (
        "Lucía Fernández Ortega",
        "Screenwriter and film director, Buenos Aires",
        Perspective.CREATOR,
        "lucia.fernandez@speakers.example",
        "es",
        "America/Argentina/Buenos_Aires",
        "Writer and director of three feature films and a television series; she teaches screenwriting.",
    ),
    (
        "Henrik Lindqvist",
        "Independent film producer, Stockholm",
        Perspective.PRODUCER,
        "henrik.lindqvist@speakers.example",
        "en",
        "Europe/Stockholm",
        "Producer of documentaries and feature films co-produced across *several countries*.",
    ),
    (
        "Claire Dubois-Mensah",
        "Professor of intellectual property law, Dakar",
        Perspective.OTHER,
        "claire.duboismensah@speakers.example",
        "fr",
        "Africa/Dakar",
        "Author of comparative studies of performers' contracts and remuneration.",
    ),
]

# The information session, on the first day: (local start, minutes, kind, topic, speaker's email)
INFORMATION_SESSION_SLOTS = [
    (time(10, 30), 10, SlotKind.STATEMENT, "Opening of the information session by the Chair", None),
    (time(10, 40), 25, SlotKind.TALK, "Performing in audiovisual works", "amara.okafor@speakers.example"),
    (time(11, 5), 25, SlotKind.TALK, "Creating audiovisual works", "lucia.fernandez@speakers.example"),
    (time(11, 30), 25, SlotKind.TALK, "Producing audiovisual works", "henrik.lindqvist@speakers.example"),
    (
        time(11, 55),
        25,
        SlotKind.TALK,
        "Performers' contracts and remuneration in practice",
        "claire.duboismensah@speakers.example",
    ),
    (time(12, 20), 30, SlotKind.DISCUSSION, "Questions and discussion", None),
    (time(12, 50), 10, SlotKind.STATEMENT, "Closing of the information session", None),
]


def seed_program(meeting) -> dict[str, int]:
    """The speakers, the slots of the information session (with confirmed offers) and the
    program's publication, each created only if missing."""
    added = {"speakers": 0, "slots": 0}
    speakers = {}
    for name, affiliation, perspective, email, language, timezone, biography in SPEAKERS:
        speaker = db.session.scalar(db.select(Speaker).where(Speaker.meeting_id == meeting.id, Speaker.email == email))
        if speaker is None:
            speaker = Speaker(
                meeting=meeting,
                name=name,
                affiliation=affiliation,
                perspective=perspective,
                email=email,
                language=language,
                timezone=timezone,
                biography=biography,
            )
            db.session.add(speaker)
            added["speakers"] += 1
        speakers[email] = speaker
    db.session.flush()

    session = next((s for s in meeting.sessions if s.kind == SessionKind.INFORMATION_SESSION), None)
    has_slots = session is not None and db.session.scalar(
        db.select(Slot.id).where(Slot.program_session_id == session.id).limit(1)
    )
    if session is not None and not has_slots:
        day = to_local(session.starts_at, meeting.timezone).date()
        for position, (start, minutes, kind, topic, email) in enumerate(INFORMATION_SESSION_SLOTS):
            slot = Slot(
                session=session,
                starts_at=to_utc(datetime.combine(day, start), meeting.timezone),
                duration_minutes=minutes,
                kind=kind,
                topic=topic,
                position=position,
            )
            db.session.add(slot)
            db.session.flush()
            if email is not None:
                speaker = speakers[email]
                offer = SpeakerOffer(
                    slot_id=slot.id, speaker_id=speaker.id, status=OfferStatus.CONFIRMED, answered_at=utcnow()
                )
                offer.renew_token()
                db.session.add(offer)
                slot.speaker = speaker
            added["slots"] += 1
    if db.session.get(ProgramState, meeting.id) is None:
        db.session.add(ProgramState(meeting_id=meeting.id, published_at=utcnow()))
    return added


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

    db.session.flush()
    meeting = db.session.scalar(db.select(Meeting).where(Meeting.slug == DEMO_SLUG))
    added.update(seed_program(meeting))
    added.update(seed_documents(meeting))

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
