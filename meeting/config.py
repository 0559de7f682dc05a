"""Default settings. Every one can be overridden by an environment variable with the
`MEETING_` prefix (`MEETING_SQLALCHEMY_DATABASE_URI`, `MEETING_MAIL_SERVER`, ...)."""

from datetime import timedelta


class DefaultConfig:
    SECRET_KEY = None  # required outside debug and testing; see create_app
    SQLALCHEMY_DATABASE_URI = None  # defaults to SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    STORAGE_DIR = None  # defaults to instance/storage
    BASE_URL = None  # for links in emails, e.g. https://meetings.example.org

    LANGUAGES = ("en", "fr", "es")
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = "UTC"

    MAIL_SERVER = None  # no server: emails stay in the outbox and organizers see them
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_DEFAULT_SENDER = "Meeting Secretariat <meetings@localhost>"
    MAIL_TIMEOUT = 30  # seconds for one SMTP conversation
    MAIL_LEASE_SECONDS = 300  # a worker that claimed messages and died gives them back after this
    MAIL_RETRY_BASE_SECONDS = 60  # back-off: 1, 2, 4... minutes
    MAIL_RETRY_MAX_SECONDS = 3600
    MAIL_MAX_ATTEMPTS = 8
    # SMTP connections a delivery worker keeps busy at once, 1 to 10 (`flask outbox deliver --connections N`).
    MAIL_DELIVERY_CONNECTIONS = 4

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = None  # a delegate filling a long form must not lose it

    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15

    PER_PAGE = 50
    CREDENTIALS_MAX_BYTES = 10 * 1024 * 1024  # a note verbale or letter of appointment, scanned
    DOCUMENT_MAX_BYTES = 50 * 1024 * 1024  # one language version of a study
    # The whole request: the largest upload and the rest of its form. A larger request is answered
    # with the "File too large" page (413); the documents module raises this limit when
    # DOCUMENT_MAX_BYTES is set higher. Files are spooled to disk while the form is parsed; only
    # the text fields are held in memory, up to MAX_FORM_MEMORY_SIZE.
    MAX_CONTENT_LENGTH = 60 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 500 * 1024
    # A URL prefix such as /protected/ mapped by the front web server (nginx `internal` location) to
    # STORAGE_DIR: downloads then answer with `X-Accel-Redirect: <prefix><storage key>` and no body.
    X_ACCEL_REDIRECT = None
    # Downloads are counted in each worker's memory and written at most this many seconds later, all
    # together (documents/services.py); 0 writes each download at once.
    DOWNLOAD_COUNT_SECONDS = 1.0
    # What a download reads (the document, its current file, whether it is published) is reused by
    # each worker for this many seconds (documents/services.py); 0 reads it at every download.
    DOWNLOAD_LOOKUP_SECONDS = 1.0

    # Rate limits (Flask-Limiter) on what anyone may send: the login, the registration form, "email me my
    # link", the answers to invitations, and the API's writes; counted per client address. GET requests
    # are never limited. The counters live in memory (per worker process) unless a shared storage is
    # given: MEETING_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 keeps them in Redis, shared by all
    # workers. Behind a reverse proxy, set PROXY_FIX_X_FOR to the number of proxies in front of the app
    # so that the client address is read from X-Forwarded-For (werkzeug's ProxyFix); otherwise every
    # request seems to come from the proxy and shares one budget.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "meeting-memory://"  # limits' memory storage, without its timer threads
    RATELIMIT_STRATEGY = "fixed-window"
    RATELIMIT_HEADERS_ENABLED = False  # no X-RateLimit-* headers; a 429 says Retry-After (core/ratelimit.py)
    RATELIMIT_KEY_PREFIX = "meeting"
    RATELIMIT_SWALLOW_ERRORS = True  # a Redis outage lets requests through (and is logged) rather than failing them
    RATELIMIT_LOGIN = "10 per minute"
    RATELIMIT_PUBLIC_POST = "20 per minute"
    RATELIMIT_API_WRITE = "300 per minute"
    PROXY_FIX_X_FOR = 0

    # On site (meeting/onsite): the participants' personal data may be erased this many days after the
    # last day of a closed meeting; a badge print run of more badges than this is made in the background
    # by `flask onsite badges --loop` (WeasyPrint takes some 20 ms a badge).
    RETENTION_DAYS = 180
    BADGES_INLINE_LIMIT = 50
