"""The demo meeting's documents: the agenda and the four background studies, in English and French,
as small generated PDF files of sample text (labelled as such), added through the services like an
organizer's uploads. `flask demo` calls `seed_documents`; what exists already is left as it is."""

import textwrap
from datetime import date
from io import BytesIO

from werkzeug.datastructures import FileStorage

from ..extensions import db
from . import services
from .models import Document, DocumentAccess, DocumentKind

LANGUAGES = ("en", "fr")

# (symbol, kind, access, English title, French title)
DOCUMENTS = [
    (
        "AVP/IM/03/1",
        DocumentKind.AGENDA,
        DocumentAccess.PUBLIC,
        "Agenda",
        "Ordre du jour",
    ),
    (
        "AVP/IM/03/2",
        DocumentKind.SURVEY,
        DocumentAccess.PUBLIC,
        "Survey of national legislation on the protection of audiovisual performances",
        "Étude des législations nationales sur la protection des interprétations et exécutions audiovisuelles",
    ),
    (
        "AVP/IM/03/3A",
        DocumentKind.STUDY,
        DocumentAccess.PUBLIC,
        "Study on audiovisual performers' contracts and remuneration in selected countries (part A)",
        "Étude sur les contrats et la rémunération des artistes interprètes de l'audiovisuel dans certains pays "
        "(partie A)",
    ),
    (
        "AVP/IM/03/3B",
        DocumentKind.STUDY,
        DocumentAccess.PARTICIPANTS,
        "Study on audiovisual performers' contracts and remuneration in selected countries (part B)",
        "Étude sur les contrats et la rémunération des artistes interprètes de l'audiovisuel dans certains pays "
        "(partie B)",
    ),
    (
        "AVP/IM/03/4",
        DocumentKind.STUDY,
        DocumentAccess.PUBLIC,
        "Study on the transfer of rights and private international law",
        "Étude sur le transfert des droits et le droit international privé",
    ),
]

MEETING_TITLE = {
    "en": "Ad hoc Informal Meeting on the Protection of Audiovisual Performances",
    "fr": "Réunion informelle ad hoc sur la protection des interprétations et exécutions audiovisuelles",
}
LABELS = {
    "en": {"original": "ORIGINAL: English", "date": "DATE: {date}", "by": "prepared by the Secretariat"},
    "fr": {"original": "ORIGINAL : anglais", "date": "DATE : {date}", "by": "établi par le Secrétariat"},
}
SAMPLE_NOTICE = {
    "en": "SAMPLE TEXT - generated for the demonstration of the meeting software. This is not the "
    "Secretariat's document and must not be quoted.",
    "fr": "TEXTE D'EXEMPLE - produit pour la démonstration du logiciel de réunion. Ce n'est pas le document "
    "du Secrétariat ; il ne doit pas être cité.",
}
BODY = {
    "en": [
        "The document prepared for the meeting would appear here: an introduction, the method followed, the "
        "findings for each country or question examined, and the conclusions submitted to the meeting.",
        "Delegations and observers download the language version they prefer from the meeting's page; "
        "documents for participants only are available through the personal link of a confirmed registration.",
    ],
    "fr": [
        "Le document établi pour la réunion figurerait ici : une introduction, la méthode suivie, les "
        "constatations pour chaque pays ou question examinés, et les conclusions soumises à la réunion.",
        "Les délégations et les observateurs téléchargent la version linguistique de leur choix depuis la page "
        "de la réunion ; les documents réservés aux participants sont accessibles par le lien personnel d'une "
        "inscription confirmée.",
    ],
}
AGENDA = {
    "en": [
        "1. Opening of the meeting",
        "2. Adoption of the agenda",
        "3. Information session: performing, creating and producing audiovisual works",
        "4. General discussion",
        "5. Discussion of the background studies",
        "6. Closing of the meeting",
    ],
    "fr": [
        "1. Ouverture de la réunion",
        "2. Adoption de l'ordre du jour",
        "3. Séance d'information : interpréter, créer et produire des œuvres audiovisuelles",
        "4. Débat général",
        "5. Examen des études de base",
        "6. Clôture de la réunion",
    ],
}


def seed_documents(meeting, today: date | None = None) -> dict[str, int]:
    """Add the documents and language versions that are missing; a document is published when it
    is added (one an organizer has withdrawn since stays withdrawn)."""
    today = today or date.today()
    added = {"documents": 0, "document files": 0}
    for symbol, kind, access, title_en, title_fr in DOCUMENTS:
        titles = {"en": title_en, "fr": title_fr}
        document = db.session.scalar(
            db.select(Document).where(Document.meeting_id == meeting.id, Document.symbol == symbol)
        )
        created = document is None
        if created:
            document = services.create_document(
                meeting, {"symbol": symbol, "title": title_en, "kind": kind, "access": access}
            )
            added["documents"] += 1
        for language in LANGUAGES:
            if language in meeting.language_codes and document.current_file(language) is None:
                content = sample_pdf(_page_lines(symbol, kind, titles[language], language, today))
                name = f"{symbol.replace('/', '-')} ({language}).pdf"
                services.upload_file(document, language, FileStorage(BytesIO(content), filename=name))
                added["document files"] += 1
        if created:
            services.publish_document(document)
    return added


def _page_lines(symbol, kind, title, language, today) -> list[tuple[str, int, bool]]:
    """The page as (text, font size, bold) lines."""
    labels = LABELS[language]
    lines = [
        (symbol, 12, True),
        (labels["original"], 10, False),
        (labels["date"].format(date=today.isoformat()), 10, False),
        ("", 10, False),
    ]
    lines += [(line, 12, True) for line in textwrap.wrap(MEETING_TITLE[language], 75)]
    lines.append(("", 10, False))
    lines += [(line, 16, True) for line in textwrap.wrap(title, 60)]
    lines += [(LABELS[language]["by"], 11, False), ("", 10, False)]
    lines += [(line, 10, True) for line in textwrap.wrap(SAMPLE_NOTICE[language], 90)]
    lines.append(("", 10, False))
    paragraphs = AGENDA[language] if kind == DocumentKind.AGENDA else BODY[language]
    for paragraph in paragraphs:
        lines += [(line, 11, False) for line in textwrap.wrap(paragraph, 85)]
        lines.append(("", 6, False))
    return lines


def _pdf_text(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("cp1252", errors="replace")


def sample_pdf(lines: list[tuple[str, int, bool]]) -> bytes:
    """A one-page A4 PDF (version 1.4) of text lines in Helvetica, with the cross-reference table a
    reader expects; the standard fonts need no embedding and WinAnsi encoding covers French."""
    content = [b"BT"]
    y = 790.0
    for text, size, bold in lines:
        if text:
            content.append(
                b"/%s %d Tf 1 0 0 1 56 %.1f Tm (%s) Tj" % (b"F2" if bold else b"F1", size, y, _pdf_text(text))
            )
        y -= size * 1.45
    content.append(b"ET")
    stream = b"\n".join(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
