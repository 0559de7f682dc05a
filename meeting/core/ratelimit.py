"""Rate limits on what anyone can send without an account: the login, the registration form, "email me
my link" and the answers to invitations, plus the API's writes. They are counted per client address
and per route, and only for the methods that change something: reading a page is never limited.

The limits are applied here, by endpoint name, so the modules that own those views stay unaware of
them. A request over a limit gets 429 with `Retry-After`: the "Too many requests" page, or under /api
the JSON error. The counters are kept by Flask-Limiter in `RATELIMIT_STORAGE_URI`: memory by default
(each worker process counts on its own), Redis when `MEETING_RATELIMIT_STORAGE_URI=redis://…` is set,
so that all workers share them.

Behind a reverse proxy every request comes from the proxy's address: set `PROXY_FIX_X_FOR` to the
number of proxies in front of the app, and the client address is read from `X-Forwarded-For`
(werkzeug's ProxyFix) — only then, since a client could otherwise forge that header."""

import math
import time

from flask import current_app, request
from flask_limiter import RateLimitExceeded
from limits.storage import MemoryStorage as LimitsMemoryStorage
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from ..extensions import limiter

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]


class MemoryStorage(LimitsMemoryStorage):
    """The counters in the worker's memory (`meeting-memory://`, the default): limits' own memory
    storage, except that it forgets expired counters in the calling thread at most once a second.
    limits' storage starts a timer thread for that, 10 ms after a hit whenever none is running: under
    a burst of registrations that is a new thread every few requests, and each start makes the
    request wait for the new thread to get the interpreter lock. Expired counters are ignored when
    read anyway (`get`); the sweep only frees their memory."""

    STORAGE_SCHEME = ["meeting-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # limits' hook, called on every hit
        now = time.monotonic()
        if now >= self.next_sweep:
            self.next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


# The limit strings are read from the configuration at each request. These are plain module-level
# functions so that the limits Flask-Limiter records (by value) are the same for every app built by
# `create_app`, as the tests build one per test.
def login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def public_post_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC_POST"]


def api_write_limit() -> str:
    return current_app.config["RATELIMIT_API_WRITE"]


# endpoint: limit of its POST requests
PUBLIC_POST_LIMITS = {
    "accounts.login": login_limit,
    "registration.register": public_post_limit,
    "registration.request_link": public_post_limit,
    "invitations.accept": public_post_limit,
    "invitations.decline": public_post_limit,
}


def limit_api_writes(blueprint) -> None:
    """Every write of `blueprint` (the API) is limited per client address and per route."""
    limiter.limit(api_write_limit, methods=WRITE_METHODS)(blueprint)


def seconds_until_reset() -> int:
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, math.ceil(limit.reset_at - time.time()))


@limiter.request_filter
def reading_is_never_limited() -> bool:
    """Every limit is on a write: a GET or HEAD (a page, a download) skips the limiter altogether,
    rather than having it look for limits that cannot apply."""
    return request.method not in WRITE_METHODS


def answer_too_many_requests(error: RateLimitExceeded):
    """A refused request gets the site's usual answer to a 429 (the "Too many requests" page, or the
    API's JSON error), saying when to try again."""
    return current_app.handle_http_exception(TooManyRequests(retry_after=seconds_until_reset()))


def init_app(app) -> None:
    """Call once every blueprint is registered: the limits wrap the views of the endpoints above."""
    proxies = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, answer_too_many_requests)
    for endpoint, limit in PUBLIC_POST_LIMITS.items():
        view = app.view_functions.get(endpoint)
        if view is not None:
            app.view_functions[endpoint] = limiter.limit(limit, methods=["POST"])(view)
