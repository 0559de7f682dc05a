"""The program's pages: the speaker's offer page and the program as iCalendar (public), and under
/manage the program overview (conflicts, publication), each session's timeline of slots, and the
speakers with their offers."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..core.errors import DomainError
from ..core.forms import show_refusal
from ..core.manage import manage_blueprint
from ..core.storage import delete_stored, path_for
from ..extensions import db
from ..meetings import services as meeting_services
from . import services
from .forms import AvailabilityForm, MoveSlotForm, PhotoForm, SlotForm, SpeakerAnswerForm, SpeakerForm
from .models import OfferStatus

bp = Blueprint("program", __name__)
manage_bp = manage_blueprint("program", __name__)

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


def _meeting_or_404(slug):
    meeting = meeting_services.find_meeting(slug, with_sessions=True)
    if meeting is None:
        abort(404)
    return meeting


def _calendar_response(content: bytes, filename: str):
    response = make_response(content)
    response.headers["Content-Type"] = ICS_MEDIA_TYPE
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# Public ----------------------------------------------------------------------------------------


def _offer_or_404(token):
    offer = services.find_offer_by_token(token)
    if offer is None:
        abort(404)
    return offer


def _private(response):
    # The page is reached through a secret link: no cache keeps it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/speakers/<token>", methods=["GET", "POST"])
def speaker_offer(token):
    offer = _offer_or_404(token)
    form = SpeakerAnswerForm()
    status = 200
    if request.method == "POST":
        answer = request.form.get("answer")
        if answer not in ("confirm", "decline"):
            abort(400)
        if form.validate():
            try:
                if answer == "confirm":
                    services.confirm_offer(offer, form.note.data)
                else:
                    services.decline_offer(offer, form.note.data)
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                db.session.commit()
                if answer == "confirm":
                    flash(_("Thank you: your slot is confirmed. We have emailed you the details."), "success")
                else:
                    flash(_("Thank you for letting us know. The Secretariat has been told."), "success")
            return redirect(url_for(".speaker_offer", token=token))
        status = 422
    return _private(
        make_response(
            render_template(
                "program/speaker_offer.html",
                offer=offer,
                slot=offer.slot,
                session=offer.slot.session,
                meeting=offer.slot.session.meeting,
                speaker=offer.speaker,
                form=form,
                token=token,
                day=services.format_day,
            ),
            status,
        )
    )


@bp.get("/speakers/<token>/slot.ics")
def speaker_slot_calendar(token):
    offer = _offer_or_404(token)
    if offer.status != OfferStatus.CONFIRMED:
        abort(404)
    meeting = offer.slot.session.meeting
    return _private(_calendar_response(services.slot_calendar(offer), f"{meeting.slug}-slot.ics"))


@bp.get("/meetings/<slug>/speakers/<int:speaker_id>/photo")
def speaker_photo(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    if current_user.is_authenticated and current_user.is_organizer:
        speaker = services.find_speaker(meeting, speaker_id)
    else:
        speaker = services.public_speaker(meeting, speaker_id)
    if speaker is None or speaker.photo_key is None:
        abort(404)
    return send_file(path_for(speaker.photo_key), mimetype=speaker.photo_content_type, max_age=3600)


@bp.get("/meetings/<slug>/program.ics")
def program_calendar(slug):
    meeting = _meeting_or_404(slug)
    if not meeting.is_public and not (current_user.is_authenticated and current_user.is_organizer):
        abort(404)
    calendar = services.program_calendar(meeting, request.args.get("lang"))
    return _calendar_response(calendar, f"{meeting.slug}-program.ics")


# Organizers: the program -----------------------------------------------------------------------


@manage_bp.get("/meetings/<slug>/program")
def overview(slug):
    meeting = _meeting_or_404(slug)
    slots = services.meeting_slots(meeting)
    return render_template(
        "program/manage_program.html",
        meeting=meeting,
        state=services.program_state(meeting),
        conflicts=services.find_conflicts(meeting, slots),
        slots=services.slots_by_session(slots),
    )


@manage_bp.post("/meetings/<slug>/program/publish")
def publish(slug):
    meeting = _meeting_or_404(slug)
    try:
        services.publish_program(meeting)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The program is published: the public sees its slots and confirmed speakers."), "success")
    return redirect(url_for(".overview", slug=slug))


@manage_bp.post("/meetings/<slug>/program/unpublish")
def unpublish(slug):
    meeting = _meeting_or_404(slug)
    try:
        services.unpublish_program(meeting)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The program is no longer public."), "success")
    return redirect(url_for(".overview", slug=slug))


# Organizers: a session's timeline and its slots ------------------------------------------------


def _session_or_404(meeting, session_id):
    session = meeting_services.find_session(meeting, session_id)
    if session is None:
        abort(404)
    return session


def _slot_or_404(meeting, slot_id):
    slot = services.find_slot(meeting, slot_id)
    if slot is None:
        abort(404)
    return slot


def _render_timeline(meeting, session, form, status=200):
    slots = services.meeting_slots(meeting)
    here = services.slots_by_session(slots).get(session.id, [])
    slot_ids = {slot.id for slot in here}
    conflicts = [
        conflict
        for conflict in services.find_conflicts(meeting, slots)
        if slot_ids.intersection(conflict.slot_ids) or session.id in conflict.session_ids
    ]
    move_forms = {
        slot.id: MoveSlotForm(
            formdata=None, prefix=f"move-{slot.id}", data={"starts_at": meeting.local(slot.starts_at).time()}
        )
        for slot in here
    }
    return render_template(
        "program/manage_session.html",
        meeting=meeting,
        session=session,
        timeline=services.session_timeline(session, here),
        conflicts=conflicts,
        form=form,
        move_forms=move_forms,
        state=services.program_state(meeting),
    ), status


@manage_bp.get("/meetings/<slug>/program/sessions/<int:session_id>")
def session_timeline(slug, session_id):
    meeting = _meeting_or_404(slug)
    session = _session_or_404(meeting, session_id)
    form = SlotForm.for_new_slot(session, services.next_free_start(session, session.slots))
    return _render_timeline(meeting, session, form)


@manage_bp.post("/meetings/<slug>/program/sessions/<int:session_id>/slots")
def add_slot(slug, session_id):
    meeting = _meeting_or_404(slug)
    session = _session_or_404(meeting, session_id)
    form = SlotForm()
    if form.validate():
        try:
            slot = services.add_slot(session, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The slot “%(slot)s” has been added.", slot=slot.title), "success")
            return redirect(url_for(".session_timeline", slug=slug, session_id=session.id))
    return _render_timeline(meeting, session, form, 422)


@manage_bp.route("/meetings/<slug>/program/slots/<int:slot_id>/edit", methods=["GET", "POST"])
def edit_slot(slug, slot_id):
    meeting = _meeting_or_404(slug)
    slot = _slot_or_404(meeting, slot_id)
    form = SlotForm() if request.method == "POST" else SlotForm.for_slot(slot)
    if form.validate_on_submit():
        try:
            services.update_slot(slot, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The slot “%(slot)s” has been saved.", slot=slot.title), "success")
            return redirect(url_for(".session_timeline", slug=slug, session_id=slot.program_session_id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "program/manage_slot_form.html", meeting=meeting, slot=slot, session=slot.session, form=form
    ), status


@manage_bp.post("/meetings/<slug>/program/slots/<int:slot_id>/move")
def move_slot(slug, slot_id):
    meeting = _meeting_or_404(slug)
    slot = _slot_or_404(meeting, slot_id)
    form = MoveSlotForm(prefix=f"move-{slot.id}")
    if not form.validate():
        flash(_("Give the new start of “%(slot)s” as a time, such as 10:30.", slot=slot.title), "error")
    else:
        try:
            services.move_slot(slot, form.starts_at.data)
        except DomainError as error:
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("“%(slot)s” has been moved.", slot=slot.title), "success")
    return redirect(url_for(".session_timeline", slug=slug, session_id=slot.program_session_id))


@manage_bp.post("/meetings/<slug>/program/slots/<int:slot_id>/up", defaults={"direction": "up"})
@manage_bp.post("/meetings/<slug>/program/slots/<int:slot_id>/down", defaults={"direction": "down"})
def shift_slot(slug, slot_id, direction):
    meeting = _meeting_or_404(slug)
    slot = _slot_or_404(meeting, slot_id)
    try:
        services.shift_slot(slot, direction)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        if direction == "up":
            flash(_("“%(slot)s” now comes one place earlier.", slot=slot.title), "success")
        else:
            flash(_("“%(slot)s” now comes one place later.", slot=slot.title), "success")
    return redirect(
        url_for(".session_timeline", slug=slug, session_id=slot.program_session_id, _anchor=f"slot-{slot.id}")
    )


@manage_bp.post("/meetings/<slug>/program/slots/<int:slot_id>/delete")
def delete_slot(slug, slot_id):
    meeting = _meeting_or_404(slug)
    slot = _slot_or_404(meeting, slot_id)
    session_id, title = slot.program_session_id, slot.title
    try:
        services.delete_slot(slot)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The slot “%(slot)s” has been deleted.", slot=title), "success")
    return redirect(url_for(".session_timeline", slug=slug, session_id=session_id))


# Organizers: speakers and offers ---------------------------------------------------------------


def _speaker_or_404(meeting, speaker_id):
    speaker = services.find_speaker(meeting, speaker_id)
    if speaker is None:
        abort(404)
    return speaker


def _offer_choices(meeting, slots=None) -> list[tuple[str, list[tuple[int, str]]]]:
    """The slots that can be offered now, by session: [(session title, [(slot id, label)])]."""
    groups: dict[int, tuple[str, list]] = {}
    for slot in services.offerable_slots(meeting, slots):
        label = f"{services.format_moment(slot.starts_at, meeting.timezone, 'short')} · {slot.title}"
        groups.setdefault(slot.program_session_id, (slot.session.title, []))[1].append((slot.id, label))
    return list(groups.values())


@manage_bp.get("/meetings/<slug>/speakers")
def list_speakers(slug):
    meeting = _meeting_or_404(slug)
    slots = services.meeting_slots(meeting)
    return render_template(
        "program/manage_speakers.html",
        meeting=meeting,
        speakers=services.speakers_of(meeting),
        offer_choices=_offer_choices(meeting, slots),
    )


@manage_bp.route("/meetings/<slug>/speakers/new", methods=["GET", "POST"])
def new_speaker(slug):
    meeting = _meeting_or_404(slug)
    form = SpeakerForm(meeting)
    if form.validate_on_submit():
        try:
            speaker = services.add_speaker(meeting, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s has been added to the speakers.", name=speaker.name), "success")
            return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id))
    status = 422 if request.method == "POST" else 200
    return render_template("program/manage_speaker_form.html", meeting=meeting, speaker=None, form=form), status


def _render_speaker(meeting, speaker, form, availability_form=None, photo_form=None, status=200):
    return render_template(
        "program/manage_speaker_form.html",
        meeting=meeting,
        speaker=speaker,
        form=form,
        availability_form=availability_form or AvailabilityForm(formdata=None),
        photo_form=photo_form or PhotoForm(formdata=None),
        offer_choices=_offer_choices(meeting),
    ), status


@manage_bp.route("/meetings/<slug>/speakers/<int:speaker_id>", methods=["GET", "POST"])
def edit_speaker(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    form = SpeakerForm(meeting) if request.method == "POST" else SpeakerForm.for_speaker(speaker)
    if form.validate_on_submit():
        try:
            services.update_speaker(speaker, form.values())
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("%(name)s has been saved.", name=speaker.name), "success")
            return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id))
    return _render_speaker(meeting, speaker, form, status=422 if request.method == "POST" else 200)


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/delete")
def delete_speaker(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    name = speaker.name
    try:
        photo_key = services.delete_speaker(speaker)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker_id))
    db.session.commit()
    delete_stored(photo_key)
    flash(_("%(name)s has been deleted.", name=name), "success")
    return redirect(url_for(".list_speakers", slug=slug))


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/photo")
def upload_photo(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    form = PhotoForm()
    if form.validate():
        try:
            previous = services.set_speaker_photo(speaker, form.photo.data)
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            delete_stored(previous)
            flash(_("The photo of %(name)s has been saved.", name=speaker.name), "success")
            return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id, _anchor="photo"))
    return _render_speaker(meeting, speaker, SpeakerForm.for_speaker(speaker), photo_form=form, status=422)


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/photo/delete")
def remove_photo(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    previous = services.remove_speaker_photo(speaker)
    db.session.commit()
    delete_stored(previous)
    flash(_("The photo of %(name)s has been removed.", name=speaker.name), "success")
    return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id, _anchor="photo"))


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/availability")
def add_availability(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    form = AvailabilityForm()
    if form.validate():
        try:
            services.add_availability(speaker, form.starts_at.data, form.ends_at.data)
        except DomainError as error:
            show_refusal(form, error)
        else:
            db.session.commit()
            flash(_("The availability of %(name)s has been saved.", name=speaker.name), "success")
            return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id, _anchor="availability"))
    return _render_speaker(meeting, speaker, SpeakerForm.for_speaker(speaker), availability_form=form, status=422)


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/availability/<int:window_id>/delete")
def remove_availability(slug, speaker_id, window_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    services.remove_availability(speaker, window_id)
    db.session.commit()
    flash(_("The window has been removed."), "success")
    return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker.id, _anchor="availability"))


def _back_to(slug, speaker_id=None):
    if request.form.get("back") == "speaker" and speaker_id is not None:
        return redirect(url_for(".edit_speaker", slug=slug, speaker_id=speaker_id))
    return redirect(url_for(".list_speakers", slug=slug))


@manage_bp.post("/meetings/<slug>/speakers/<int:speaker_id>/offer")
def offer_slot(slug, speaker_id):
    meeting = _meeting_or_404(slug)
    speaker = _speaker_or_404(meeting, speaker_id)
    slot = services.find_slot(meeting, request.form.get("slot_id", type=int))
    if slot is None:
        flash(_("Choose a slot to offer."), "error")
        return _back_to(slug, speaker.id)
    try:
        services.offer_slot(slot, speaker)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(
            _(
                "“%(slot)s” has been offered to %(name)s; the email is in the outbox.",
                slot=slot.title,
                name=speaker.name,
            ),
            "success",
        )
    return _back_to(slug, speaker.id)


def _offer_or_404_for(meeting, offer_id):
    offer = services.find_offer(meeting, offer_id)
    if offer is None:
        abort(404)
    return offer


@manage_bp.post("/meetings/<slug>/offers/<int:offer_id>/remind")
def remind_offer(slug, offer_id):
    meeting = _meeting_or_404(slug)
    offer = _offer_or_404_for(meeting, offer_id)
    try:
        services.remind_offer(offer)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("A reminder to %(name)s is in the outbox.", name=offer.speaker.name), "success")
    return _back_to(slug, offer.speaker_id)


@manage_bp.post("/meetings/<slug>/offers/<int:offer_id>/withdraw")
def withdraw_offer(slug, offer_id):
    meeting = _meeting_or_404(slug)
    offer = _offer_or_404_for(meeting, offer_id)
    try:
        services.withdraw_offer(offer)
    except DomainError as error:
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(_("The offer to %(name)s has been withdrawn and the slot is free.", name=offer.speaker.name), "success")
    return _back_to(slug, offer.speaker_id)
