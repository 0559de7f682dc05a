"""The API against its own OpenAPI description, fuzzed by Schemathesis: for every operation, examples
generated from the description (valid and invalid ones), anonymously and with an organizer's token,
on a meeting with a program, documents and registrations. No answer may be a server error, and every
answer must match the schema the description gives for its status.

Bounded and reproducible: at most MAX_EXAMPLES generated examples per operation, derandomized, no
deadline (a first request may be slow on a cold database). The fuzzer's writes (status changes,
invitations, decisions) run one after the other in the test's own app, so they cannot wait on each
other; the rate limit on API writes is raised so that it does not answer in their place."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from meeting import create_app
from meeting.accounts.models import User
from meeting.extensions import db
from meeting.registration.models import Registration

from . import factories

MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, response_schema_conformance]
FUZZING = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def seeded(app, organizer):
    """The published meeting `avp-test` and a draft, an organizer's token and a pending registration."""
    app.config["RATELIMIT_API_WRITE"] = "100000 per minute"
    with app.app_context():
        meeting = factories.make_full_meeting()
        factories.make_full_meeting(slug="draft-meeting", status="draft")
        token = factories.make_api_token(db.session.get(User, organizer))
        pending = db.session.scalar(
            db.select(Registration).where(Registration.meeting_id == meeting.id, Registration.status == "pending")
        )
        db.session.commit()
        return {"slug": meeting.slug, "registration_id": pending.id, "token": token}


def on_the_seeded_meeting(case, seeded):
    """Random addresses would only meet 404s (tested by hand in test_api.py): every example is sent
    to the seeded meeting and registration, with the rest of the request as generated."""
    parameters = dict(case.path_parameters or {})
    for name in ("slug", "registration_id"):
        if name in parameters:
            parameters[name] = seeded[name]
    case.path_parameters = parameters
    return case


# The description is read from an app of its own: it needs no database. Each request then goes to the
# test's `app`, on the test's database.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json",
    create_app({"TESTING": True, "SECRET_KEY": "schema", "SQLALCHEMY_DATABASE_URI": "sqlite://"}),
)


@schema.parametrize()
@FUZZING
def test_anonymous_requests_get_no_server_error_and_answers_match_the_description(case, app, seeded):
    on_the_seeded_meeting(case, seeded).call_and_validate(app=app, checks=CHECKS)


@schema.parametrize()
@FUZZING
def test_requests_with_a_token_get_no_server_error_and_answers_match_the_description(case, app, seeded):
    on_the_seeded_meeting(case, seeded).call_and_validate(
        app=app, headers={"Authorization": f"Bearer {seeded['token']}"}, checks=CHECKS
    )
