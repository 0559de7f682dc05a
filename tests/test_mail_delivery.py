"""The email as the delivery worker builds it (meeting/mail/message.py): what a mail program reads
back from the bytes, for names and subjects in any language, text and HTML, attachments, and what
cannot be sent at all. Delivery itself, against a real SMTP server, is in test_outbox.py."""

import email
import email.policy
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

import pytest

from meeting.mail.message import UnsendableMessage, build_message_bytes, message_builder
from meeting.mail.models import OutboxMessage

SENDER = "Meeting Secretariat <meetings@meeting.test>"
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


def outbox_message(**fields):
    values = {
        "recipients": "mission.france@example.org",
        "recipient_name": "Mission permanente de la France",
        "subject": "Invitation : Réunion informelle sur les interprétations audiovisuelles",
        "body_text": "Madame, Monsieur,\n\nLe Secrétariat a l'honneur de vous inviter.\n",
        "body_html": '<!doctype html>\n<html lang="fr"><p>Le Secrétariat a l\'honneur de vous inviter.</p></html>\n',
        "language": "fr",
        "message_id": "<170000000000.1.42@meeting.test>",
    }
    values.update(fields)
    return OutboxMessage(**values)


def read_back(data: bytes):
    """The email as a mail program parses it."""
    return email.message_from_bytes(data, policy=email.policy.default)


def decoded(value) -> str:
    """A header decoded as RFC 2047 says (encoded words next to each other join without a space)."""
    return str(make_header(decode_header(str(value))))


def content(part) -> str:
    """A text part's content, with the line ends it had in the outbox."""
    return part.get_content().replace("\r\n", "\n")


def lines_of(data: bytes) -> list[bytes]:
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only, as SMTP wants
    return data.split(b"\r\n")


def test_an_invitation_reads_back_with_its_headers_and_both_bodies():
    message = outbox_message(recipients="mission.france@example.org\ngeneve.fra@example.org")

    mail = read_back(build_message_bytes(message, SENDER))

    assert mail["From"] == "Meeting Secretariat <meetings@meeting.test>"
    assert [(a.display_name, a.addr_spec) for a in mail["To"].addresses] == [
        ("Mission permanente de la France", "mission.france@example.org"),
        ("Mission permanente de la France", "geneve.fra@example.org"),
    ]
    assert mail["Subject"] == "Invitation : Réunion informelle sur les interprétations audiovisuelles"
    assert mail["Message-ID"] == "<170000000000.1.42@meeting.test>"
    assert mail["Content-Language"] == "fr"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["MIME-Version"] == "1.0"
    assert parsedate_to_datetime(mail["Date"]).tzinfo is not None
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain" and text.get_content_charset() == "utf-8"
    assert content(text) == message.body_text
    assert html.get_content_type() == "text/html" and content(html) == message.body_html
    assert list(mail.iter_attachments()) == []


def test_names_and_subjects_in_any_script_are_encoded_and_read_back_as_written():
    name = "Mission permanente de la République française auprès de l'Office des Nations Unies à Genève"
    subject = "Приглашение: 会议邀请 — Réunion informelle sur les œuvres audiovisuelles (session spéciale)"
    message = outbox_message(recipients="mission@example.org\ngeneve@example.org", recipient_name=name, subject=subject)
    sender = ("Secrétariat de la Réunion", "meetings@meeting.test")

    data = build_message_bytes(message, sender)

    headers = data.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert max(len(line) for line in lines_of(headers)) <= 78
    mail = email.message_from_bytes(data)
    assert decoded(mail["Subject"]) == subject
    assert decoded(mail["From"]) == "Secrétariat de la Réunion <meetings@meeting.test>"
    assert decoded(mail["To"]) == f"{name} <mission@example.org>, {name} <geneve@example.org>"


def test_a_short_name_in_another_script_reads_back_in_any_mail_program():
    mail = read_back(build_message_bytes(outbox_message(recipient_name="Zoë Ørsted-Nguyễn"), SENDER))

    [address] = mail["To"].addresses
    assert (address.display_name, address.addr_spec) == ("Zoë Ørsted-Nguyễn", "mission.france@example.org")


def test_an_ascii_name_with_punctuation_is_quoted():
    data = build_message_bytes(outbox_message(recipient_name="Non-Governmental Organization 0001 (fr)"), SENDER)

    assert b'To: "Non-Governmental Organization 0001 (fr)" <mission.france@example.org>\r\n' in data
    [address] = read_back(data)["To"].addresses
    assert address.display_name == "Non-Governmental Organization 0001 (fr)"


def test_an_email_without_html_is_a_single_text_part():
    mail = read_back(build_message_bytes(outbox_message(body_text="Dear colleagues,\n", body_html=""), SENDER))

    assert mail.get_content_type() == "text/plain"
    assert content(mail) == "Dear colleagues,\n"
    assert mail["Content-Transfer-Encoding"] == "7bit"


def test_attachments_go_beside_the_text_and_html_in_a_mixed_message():
    attachments = [("programme-séance.ics", "text/calendar", ICS), ("note.pdf", "application/pdf", b"%PDF-\x00\xff")]

    mail = read_back(build_message_bytes(outbox_message(), SENDER, attachments))

    assert mail.get_content_type() == "multipart/mixed"
    body, *files = mail.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content().startswith("Madame, Monsieur,")
    assert [(f.get_filename(), f.get_content_type(), f.get_payload(decode=True)) for f in files] == [
        ("programme-séance.ics", "text/calendar", ICS),
        ("note.pdf", "application/pdf", b"%PDF-\x00\xff"),
    ]


def test_a_long_subject_is_folded_at_spaces_and_reads_back_whole():
    subject = "Invitation: Ad hoc Informal Meeting on the Protection of Audiovisual Performances, second session"

    data = build_message_bytes(outbox_message(subject=subject), SENDER)

    assert max(len(line) for line in lines_of(data.split(b"\r\n\r\n", 1)[0])) <= 78
    assert read_back(data)["Subject"] == subject


def test_long_and_quoted_file_names_read_back_as_given():
    attachments = [
        (
            "Programme de la réunion sur la protection des interprétations audiovisuelles, séance 1.ics",
            "text/calendar",
            ICS,
        ),
        ('The "final" agenda.txt', "text/plain", b"Agenda\r\n"),
    ]

    data = build_message_bytes(outbox_message(body_html=""), SENDER, attachments)

    assert max(len(line) for line in lines_of(data)) <= 78
    mail = read_back(data)
    assert mail.get_content_type() == "multipart/mixed"
    text, *files = mail.iter_parts()
    assert content(text) == "Madame, Monsieur,\n\nLe Secrétariat a l'honneur de vous inviter.\n"
    assert [(f.get_filename(), f.get_payload(decode=True)) for f in files] == [
        (attachments[0][0], ICS),
        (attachments[1][0], b"Agenda\r\n"),
    ]


def test_a_body_without_a_final_line_end_keeps_its_last_line():
    mail = read_back(build_message_bytes(outbox_message(body_text="Merci.", body_html="<p>Merci.</p>"), SENDER))

    text, html = mail.iter_parts()
    assert (content(text), content(html)) == ("Merci.", "<p>Merci.</p>")


def test_a_body_with_a_line_too_long_for_smtp_goes_in_base64():
    text = "Début " + "é" * 600 + "\nfin\n"  # 1,206 bytes on one line: more than SMTP's 998

    data = build_message_bytes(outbox_message(body_text=text, body_html=""), SENDER)

    assert max(len(line) for line in lines_of(data)) <= 998
    mail = read_back(data)
    assert mail["Content-Transfer-Encoding"] == "base64"
    assert mail.get_content() == text


def test_a_body_with_a_line_starting_with_a_dot_or_from_is_kept_as_written():
    text = ".\nFrom the Secretariat\n..\n"

    mail = read_back(build_message_bytes(outbox_message(body_text=text, body_html=""), SENDER))

    assert content(mail) == text


def test_an_international_domain_is_written_in_ascii_in_the_headers_and_the_envelope():
    message = outbox_message(recipients="delegation@ministère.example")
    builder = message_builder(SENDER)

    mail = read_back(builder.build(message))

    assert mail["To"].addresses[0].addr_spec == "delegation@xn--ministre-60a.example"
    assert builder.recipients(message) == ["delegation@xn--ministre-60a.example"]
    assert builder.envelope_from == "meetings@meeting.test"


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Invitation\r\nBcc: spy@example.org"},
        {"recipient_name": "Mission\nBcc: spy@example.org"},
        {"recipients": "mission@example.org\rBcc: spy@example.org"},
        {"recipients": "délégation@ministère.example"},  # a mailbox name in UTF-8 needs SMTPUTF8
    ],
)
def test_an_email_that_cannot_be_written_safely_is_refused(fields):
    with pytest.raises(UnsendableMessage):
        build_message_bytes(outbox_message(**fields), SENDER)


def test_each_build_has_its_own_boundary_and_the_date_of_now():
    first = read_back(build_message_bytes(outbox_message(), SENDER))
    second = read_back(build_message_bytes(outbox_message(), SENDER))

    assert first.get_boundary() != second.get_boundary()
    assert first["Message-ID"] == second["Message-ID"]  # a resend carries the same Message-ID
