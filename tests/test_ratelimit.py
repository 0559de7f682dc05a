"""Rate limits: the login, the public forms and the API's writes answer 429 with Retry-After once a
client address has sent too many, as a page or as the API's JSON error; reading is never limited;
the counters are per address (read from X-Forwarded-For only behind a configured proxy) and can be
kept in Redis, shared by all the workers."""

import os
import threading
import time

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from meeting import create_app
from meeting.core import ratelimit
from meeting.extensions import db

from . import factories
from .conftest import WORKER, make_config

# Redis database 15, or 15 - n for pytest-xdist's worker gwn: the tests empty it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - int(WORKER[2:] or 0)}")
LOGIN = {"email": "secretariat@example.org", "password": "not the password"}


@pytest.fixture
def build_app(database_url, tmp_path):
    """Apps with settings of their own, on the test database (they write nothing to it)."""
    apps = []

    def build(**settings):
        app = create_app(make_config(database_url, tmp_path, **settings))
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def meeting_with_invitation(app):
    """The meeting `avp-test` and the token of an invitation to France."""
    with app.app_context():
        meeting = factories.make_meeting()
        invitation = factories.make_invitation(meeting, factories.make_organization())
        db.session.commit()
        return invitation.token()


def assert_too_many_requests_page(response):
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Too many requests" in response.get_data(as_text=True)
    assert 1 <= int(response.headers["Retry-After"]) <= 61


def test_too_many_sign_ins_get_the_too_many_requests_page_with_retry_after(app, client, organizer):
    app.config["RATELIMIT_LOGIN"] = "3 per minute"

    answers = [client.post("/login", data=LOGIN) for _ in range(3)]
    refused = client.post("/login", data={**LOGIN, "password": factories.PASSWORD})

    assert [answer.status_code for answer in answers] == [422, 422, 422]
    assert_too_many_requests_page(refused)
    assert client.get("/manage/").status_code == 302  # even the right password was not tried: not signed in


def test_reading_the_login_page_is_never_limited(app, client):
    app.config["RATELIMIT_LOGIN"] = "1 per minute"
    client.post("/login", data=LOGIN)

    assert [client.get("/login").status_code for _ in range(5)] == [200] * 5
    assert client.post("/login", data=LOGIN).status_code == 429


def test_pages_and_downloads_do_not_even_reach_the_limiter(app, client, monkeypatch):
    checked = []
    resolve = ratelimit.limiter.limit_manager.resolve_limits
    monkeypatch.setattr(
        ratelimit.limiter.limit_manager,
        "resolve_limits",
        lambda *args, **kwargs: checked.append(args) or resolve(*args, **kwargs),
    )

    for path in ("/", "/login", "/meetings/avp-test/register"):
        client.get(path)
        client.head(path)
    assert checked == []
    client.post("/login", data=LOGIN)
    assert checked  # a write is looked at


@pytest.mark.parametrize(
    "path, data",
    [
        ("/meetings/avp-test/register", {"given_name": "Jeanne"}),
        ("/meetings/avp-test/access", {"email": "someone@example.org"}),
        ("/invitations/{token}/accept", {}),
        ("/invitations/{token}/decline", {"reason": ""}),
    ],
)
def test_public_forms_are_limited_per_address(app, client, meeting_with_invitation, path, data):
    app.config["RATELIMIT_PUBLIC_POST"] = "2 per minute"
    path = path.format(token=meeting_with_invitation)

    answers = [client.post(path, data=data).status_code for _ in range(3)]

    assert 429 not in answers[:2] and answers[2] == 429
    assert_too_many_requests_page(client.post(path, data=data))
    assert client.get(path.removesuffix("/accept").removesuffix("/decline")).status_code != 429
    other_address = client.post(path, data=data, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other_address.status_code != 429


def test_api_writes_get_the_json_error_with_retry_after(app, client, organizer):
    app.config["RATELIMIT_API_WRITE"] = "2 per minute"
    with app.app_context():
        factories.make_meeting()
        token = factories.make_api_token(db.session.get(factories.User, organizer))
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}

    answers = [client.patch("/api/v1/meetings/avp-test", json={"capacity": 10}, headers=headers) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2].get_json() == {
        "error": {
            "code": "too_many_requests",
            "message": "Too many requests from your address: wait a moment before trying again.",
            "fields": {},
        }
    }
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 61
    assert [client.get("/api/v1/meetings/avp-test").status_code for _ in range(5)] == [200] * 5


def test_behind_a_proxy_the_client_address_comes_from_x_forwarded_for(build_app):
    app = build_app(PROXY_FIX_X_FOR=1, RATELIMIT_LOGIN="1 per minute")
    client = app.test_client()

    def sign_in(address):
        return client.post("/login", data=LOGIN, headers={"X-Forwarded-For": address}).status_code

    assert [sign_in("198.51.100.1"), sign_in("198.51.100.1"), sign_in("198.51.100.2")] == [422, 429, 422]


def test_without_a_proxy_a_forged_x_forwarded_for_changes_nothing(app, client):
    app.config["RATELIMIT_LOGIN"] = "1 per minute"

    def sign_in(address):
        return client.post("/login", data=LOGIN, headers={"X-Forwarded-For": address}).status_code

    assert [sign_in("198.51.100.1"), sign_in("198.51.100.2")] == [422, 429]


def test_counters_in_memory_start_again_with_a_new_process(build_app):
    client = build_app(RATELIMIT_LOGIN="1 per minute").test_client()
    assert [client.post("/login", data=LOGIN).status_code for _ in range(2)] == [422, 429]

    restarted = build_app(RATELIMIT_LOGIN="1 per minute").test_client()

    assert restarted.post("/login", data=LOGIN).status_code == 422


@pytest.fixture
def redis_db():
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def test_counters_in_redis_are_shared_by_every_worker_and_survive_a_restart(build_app, redis_db):
    settings = {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_LOGIN": "2 per minute"}
    client = build_app(**settings).test_client()

    answers = [client.post("/login", data=LOGIN).status_code for _ in range(2)]
    refused = client.post("/login", data=LOGIN)
    another_worker = build_app(**settings).test_client()

    assert answers == [422, 422]
    assert_too_many_requests_page(refused)
    assert another_worker.post("/login", data=LOGIN).status_code == 429
    assert redis_db.keys("*accounts.login*") == [b"LIMITS:LIMITER/meeting/127.0.0.1/accounts.login/2/1/minute"]


def test_the_memory_counters_start_no_thread_per_request_and_still_forget_expired_ones(monkeypatch):
    storage = storage_from_string("meeting-memory://")
    assert isinstance(storage, ratelimit.MemoryStorage)
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("2 per second")
    started = []
    monkeypatch.setattr(threading.Timer, "start", lambda timer: started.append(timer))

    # Two hits per client are allowed, the third is refused; no thread is started along the way.
    assert [limiter.hit(limit, f"client{n}") for n in range(100) for _ in range(2)] == [True] * 200
    assert not limiter.hit(limit, "client0")
    assert started == []

    # Once the window is over the counters count again from zero, and the next sweep frees them.
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 5)
    storage.next_sweep = 0.0
    assert limiter.hit(limit, "client0")
    assert list(storage.storage.values()) == [1]  # client0's new count; the other 99 are gone
    assert started == []
