"""RefRun settings: one file, every value read from the environment.

With no environment set, RefRun runs on SQLite with an in-process-free Celery
broker (the filesystem transport), so a fresh checkout starts with `make run`.
"""

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from refrun.beat import beat_table

BASE_DIR = Path(__file__).resolve().parent.parent

_Number = TypeVar("_Number")  # not upper case: Django would take it for a setting
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    # A typo such as DEBUG=ture must not silently turn into False in production.
    raise ImproperlyConfigured(f"{name} must be one of {sorted(_TRUE | _FALSE)}, got {value!r}")


def _envnumber(name: str, default: str, parse: Callable[[str], _Number], kind: str) -> _Number:
    # As for envbool: a value that does not parse stops start-up instead of being guessed.
    value = os.getenv(name, default)
    try:
        return parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, got {value!r}") from None


def envint(name: str, default: str) -> int:
    return _envnumber(name, default, int, "an integer")


def envfloat(name: str, default: str) -> float:
    return _envnumber(name, default, float, "a number")


def envsecret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = os.getenv(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.getenv(name, default)


# PRODUCTION turns on every deployment safeguard at once (check --deploy clean).
PRODUCTION = envbool("REFRUN_PRODUCTION", "false")
DEBUG = envbool("DEBUG", "false")
if PRODUCTION and DEBUG:
    # DEBUG pages show settings, SQL and tracebacks to anyone who triggers an error.
    raise ImproperlyConfigured("DEBUG=true is refused when REFRUN_PRODUCTION=true")
# Demo mode creates the demo users and fills an empty database with simulated runs.
DEMO = envbool("REFRUN_DEMO", "false")
if PRODUCTION and DEMO:
    # The demo creates accounts whose passwords are their usernames.
    raise ImproperlyConfigured("REFRUN_DEMO=true is refused when REFRUN_PRODUCTION=true")
VAR_DIR = Path(os.getenv("REFRUN_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _installation_secret_key(path: Path) -> str:
    """A random key made once per installation (mode 0600), so a deployment that
    forgot SECRET_KEY signs with nothing printed in the source, and all its processes
    agree. O_EXCL: of two processes starting at once, one writes, both read."""
    import secrets

    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in production")
    if DEBUG:
        # Printed here, so anyone can forge sessions and the signed record of what a page
        # showed: only for DEBUG, whose pages already show the settings. The demo, with
        # its known passwords reachable on a network, gets a random key like any start.
        SECRET_KEY = "refrun-development-only-key-never-use-in-production"
    else:
        SECRET_KEY = _installation_secret_key(VAR_DIR / "secret_key")

ALLOWED_HOSTS = [h for h in os.getenv("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "jobs",
    "accounts",
    "ingestion",
    "recommender",
]
# The test doubles (the simulation, the local OMS and demo_setup: demo/) are installed
# for the demo and the tests, never in production; the image does not even carry them.
DEMO_APP = envbool("REFRUN_DEMO_APP", "false" if PRODUCTION else "true")
if PRODUCTION and DEMO_APP:
    # The simulation writes made-up runs and labels, and demo_setup known-password accounts.
    raise ImproperlyConfigured("REFRUN_DEMO_APP=true is refused when REFRUN_PRODUCTION=true")
if DEMO_APP:
    INSTALLED_APPS.append("demo")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "refrun.urls"
WSGI_APPLICATION = "refrun.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        # The URL holds the password: DATABASE_URL_FILE (a mounted secret) works too.
        envsecret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'refrun.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", "60"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a Celery worker writes an import batch.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["timeout"] = 30
    # Take the write lock when a transaction starts, not at its first write: two
    # requests that both read-then-write (a double-clicked decision, two failed
    # logins) queue up instead of one failing with "database is locked".
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: the work queue's rule over every run is estimated costly
    # enough to be compiled on every change, and compiling cost more than it saved; no
    # query of a web page runs long enough to gain from it (BENCHMARKS.md, "Load:
    # where the CPU goes").
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- Static files: served by gunicorn itself (whitenoise) -------------------------
# `collectstatic` (at image build, and in `make run`) writes hashed, compressed
# copies under STATIC_ROOT, served with far-future cache headers. STATIC_MANIFEST
# (on in production) uses those hashed names; off, as in the tests, which never run
# collectstatic, the files are found in place in static/ and the apps.
STATIC_MANIFEST = envbool("STATIC_MANIFEST", "true" if PRODUCTION else "false")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without the manifest, look files up at request time: nothing has been collected.
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recommender:run_list"
LOGOUT_REDIRECT_URL = "login"

# --- Security ------------------------------------------------------------------
# `REFRUN_PRODUCTION=true manage.py check --deploy` is clean (tests/security).
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
# Control-room consoles are shared: a session ends within one 12-hour shift
# rather than Django's two weeks.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE_S", "43200")
SECURE_SSL_REDIRECT = PRODUCTION and envbool("SECURE_SSL_REDIRECT", "true")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0")
# RefRun has no plain-HTTP subdomains. `preload` only matters once someone submits
# the registrable domain to the browsers' list (a deliberate act); on a host such as
# refrun.web.cern.ch it is inert, so production sends it unless told not to.
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION and envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
SECURE_HSTS_PRELOAD = PRODUCTION and envbool("SECURE_HSTS_PRELOAD", "true")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A failed CSRF check (typically a form left open past the session) gets RefRun's
# own page with a way back, not Django's technical one.
CSRF_FAILURE_VIEW = "accounts.csrf.csrf_failure"

# Content-Security-Policy (django-csp): scripts only from RefRun's own static
# files, never inline, so injected markup cannot run. Charts are inline SVG
# markup (no script); the DRF browsable API keeps its data in JSON script blocks,
# which are not executed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Style attributes in the admin's and DRF's browsable API's markup; styles run no code.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Failed logins (accounts/login.py): after this many failures within the window
# for one username, or from one client address, that username or address is locked
# out for a back-off. Counters live in the database (LoginThrottle).
LOGIN_FAILURES_PER_USERNAME = envint("LOGIN_FAILURES_PER_USERNAME", "5")
LOGIN_FAILURES_PER_IP = envint("LOGIN_FAILURES_PER_IP", "20")
LOGIN_LOCKOUT_S = envint("LOGIN_LOCKOUT_S", "900")
# Behind a reverse proxy REMOTE_ADDR is the proxy's: name the header it sets
# (e.g. X-Forwarded-For; the right-most address is used, the one the proxy added).
# Leave empty when clients connect directly, or anyone could pick their address.
LOGIN_CLIENT_IP_HEADER = os.getenv("LOGIN_CLIENT_IP_HEADER", "")
# How many reverse proxies append to that header: the client is the address the
# outermost one added (1: the right-most entry).
LOGIN_TRUSTED_PROXIES = envint("LOGIN_TRUSTED_PROXIES", "1")
# An IPv6 client is counted by its network of this many leading bits: one machine
# usually holds a whole /64 and can take a new address for every guess.
LOGIN_IPV6_PREFIX = envint("LOGIN_IPV6_PREFIX", "64")
if not 1 <= LOGIN_IPV6_PREFIX <= 128:
    raise ImproperlyConfigured(f"LOGIN_IPV6_PREFIX must be between 1 and 128, got {LOGIN_IPV6_PREFIX}")
# At the limit the lock lasts LOGIN_BACKOFF_S, doubling with each further failure up
# to LOGIN_LOCKOUT_S; an address that logged a username in within
# LOGIN_KNOWN_ADDRESS_DAYS is not locked out by failures elsewhere.
LOGIN_BACKOFF_S = envint("LOGIN_BACKOFF_S", "15")
LOGIN_KNOWN_ADDRESS_DAYS = envint("LOGIN_KNOWN_ADDRESS_DAYS", "30")
# LOCAL_LOGIN=false (with CERN SSO): password login only for this break-glass account.
LOCAL_LOGIN = envbool("LOCAL_LOGIN", "true")
LOCAL_LOGIN_BREAK_GLASS_USER = os.getenv("LOCAL_LOGIN_BREAK_GLASS_USER", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication with a lifetime, re-reading an SSO user's roles when
        # overdue. First, so that a refused or missing token is a 401 with a `Token`
        # challenge (DRF answers 403 when the first class sends no challenge).
        "accounts.oidc.SsoTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API user (a token too); decisions have a tighter limit (FEEDBACK_WRITE_RATE).
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.getenv("API_USER_RATE", "600/minute")},
}
# An API token works this many days from its creation (accounts/tokens.py); then the
# API answers 401 and an admin issues a new one.
API_TOKEN_LIFETIME_DAYS = envint("API_TOKEN_LIFETIME_DAYS", "90")
if API_TOKEN_LIFETIME_DAYS < 1:
    raise ImproperlyConfigured(f"API_TOKEN_LIFETIME_DAYS must be at least 1, got {API_TOKEN_LIFETIME_DAYS}")
# Decisions (labels for training) per user, API and run page together.
FEEDBACK_WRITE_RATE = os.getenv("FEEDBACK_WRITE_RATE", "120/hour")
# The author of a run's current decision may replace it for this long (one shift);
# after that only a shift leader's reopen lets anyone decide again.
DECISION_CHANGE_HOURS = envint("DECISION_CHANGE_HOURS", "12")
# The work queue's fallback rule (recommender/queue.py): runs shorter than this many
# lumisections (23.31 s each) are test runs nobody certifies.
REFRUN_QUEUE_MIN_LUMISECTIONS = envint("REFRUN_QUEUE_MIN_LUMISECTIONS", "10")
SPECTACULAR_SETTINGS = {
    "TITLE": "RefRun API",
    "VERSION": "1",
    # The role every API route asks for: an account with no role reads no part of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated", "accounts.permissions.IsShifter"],
}

# --- CERN SSO (OIDC) ------------------------------------------------------------
# Switched on by OIDC_RP_CLIENT_ID alone (a CERN application-portal registration);
# Django's own login stays for local accounts. Roles come from the token's role
# claim and map onto the shifters / shift_leaders groups (accounts/oidc.py).
OIDC_RP_CLIENT_ID = os.getenv("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_USERNAME_CLAIM = os.getenv("OIDC_USERNAME_CLAIM", "cern_upn")
OIDC_ROLES_CLAIM = os.getenv("OIDC_ROLES_CLAIM", "cern_roles")
OIDC_SHIFTER_ROLES = [r for r in os.getenv("OIDC_SHIFTER_ROLES", "shifter").split(",") if r]
OIDC_SHIFT_LEADER_ROLES = [r for r in os.getenv("OIDC_SHIFT_LEADER_ROLES", "shift-leader").split(",") if r]
# Roles are read again from the provider at least this often: a browser session
# is silently re-authenticated (mozilla-django-oidc's SessionRefresh), an API
# token of an SSO user renews them with the refresh token. 15 minutes at most.
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = envint("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", "900")
if not 0 < OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS <= 900:
    raise ImproperlyConfigured("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS must be between 1 and 900 (15 minutes)")
_OIDC_REALM = os.getenv("OIDC_OP_REALM_URL", "https://auth.cern.ch/auth/realms/cern")
# The id token's `iss`; identities are (issuer, subject) pairs.
OIDC_OP_ISSUER = os.getenv("OIDC_OP_ISSUER", _OIDC_REALM)
if OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS = ["accounts.oidc.RefRunOIDCBackend", "django.contrib.auth.backends.ModelBackend"]
    OIDC_RP_CLIENT_SECRET = envsecret("OIDC_RP_CLIENT_SECRET")
    OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/auth"
    OIDC_OP_TOKEN_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/token"
    OIDC_OP_USER_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/userinfo"
    OIDC_OP_JWKS_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/certs"
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_SCOPES = "openid email profile"
    OIDC_TIMEOUT = 10
    # After AuthenticationMiddleware and MessageMiddleware, which it uses.
    MIDDLEWARE.append("accounts.oidc.RefRunSessionRefresh")
    OIDC_EXEMPT_URLS = ["login", "logout"]
    # Logging out ends the CERN session too; the id token is its hint.
    OIDC_OP_LOGOUT_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/logout"
    OIDC_OP_LOGOUT_URL_METHOD = "accounts.oidc.provider_logout_url"
    OIDC_STORE_ID_TOKEN = True

# --- Cache ---------------------------------------------------------------------
# Holds the login-failure counters, so it must be shared by every web worker:
# Redis when REDIS_URL is set, otherwise files under VAR_DIR (shared by the
# gunicorn workers of one machine, no server needed). Never the per-process
# LocMemCache, which would multiply the allowed failures by the worker count.
REDIS_URL = envsecret("REDIS_URL")  # or REDIS_URL_FILE: the URL may hold a password
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "refrun",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ------------------------------------------------------------------
# With REDIS_URL, Celery uses Redis; without it, the filesystem transport, which
# needs no server, so the demo's worker and beat run on a bare laptop.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Above the task time limit: a message a killed worker held comes back after
    # this long, and a running task is never handed to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT_S", "3900")}
else:
    _queue_dir = VAR_DIR / "celery-broker"
    _control_dir = VAR_DIR / "celery-control"
    for _folder in (_queue_dir, _control_dir):
        # The transport polls these folders and fails if they are missing.
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "3600")
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", "3300")
# A running job not updated for this long has lost its worker (past Celery's hard
# limit): the beat sweep fails it and a new job of its kind may start.
JOB_STALE_S = envint("JOB_STALE_S", str(CELERY_TASK_TIME_LIMIT + 600))
# What one gzipped import file may inflate to, in MB: a few MB of gzip can inflate
# to GBs. The largest real dump inflates to 8.5 MB; a JSON file is parsed whole.
IMPORT_MAX_INFLATED_MB = envfloat("IMPORT_MAX_INFLATED_MB", "64")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The beat table (refrun/beat.py) with REFRUN_BEAT_<KEY> overrides ("disable" turns
# an entry off); a bad value stops start-up here. The rows follow it after migrate.
REFRUN_BEAT = beat_table(os.environ)
CELERY_TIMEZONE = TIME_ZONE

# --- External services -------------------------------------------------------
OMS_API_URL = os.getenv("OMS_API_URL", "https://cmsoms.cern.ch/agg/api")
OMS_API_VERSION = os.getenv("OMS_API_VERSION", "v1")
OMS_API_AUDIENCE = os.getenv("OMS_API_AUDIENCE", "cmsoms-prod")
OMS_TOKEN_URL = os.getenv("OMS_TOKEN_URL", "https://auth.cern.ch/auth/realms/cern/api-access/token")
OMS_CLIENT_ID = os.getenv("OMS_CLIENT_ID", "")
OMS_CLIENT_SECRET = envsecret("OMS_CLIENT_SECRET")


def _https_or_loopback(name: str, url: str) -> str:
    """URLs that carry a secret (the client secret to the token URL, the bearer
    token to the API) must be https, except on this machine (the demo's local OMS
    at http://127.0.0.1) or with DEBUG/REFRUN_DEMO."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme != "https" and not (loopback or DEBUG or DEMO):
        raise ImproperlyConfigured(f"{name} must use https (it carries a secret), got {url!r}")
    return url


OMS_TOKEN_URL = _https_or_loopback("OMS_TOKEN_URL", OMS_TOKEN_URL)
OMS_API_URL = _https_or_loopback("OMS_API_URL", OMS_API_URL)
OMS_CA_BUNDLE = os.getenv("OMS_CA_BUNDLE", "") or True
OMS_TIMEOUT_S = envfloat("OMS_TIMEOUT_S", "30")
OMS_MAX_REQUESTS_PER_S = envfloat("OMS_MAX_REQUESTS_PER_S", "2")
CERTHELPER_URL = os.getenv("CERTHELPER_URL", "https://certhelper.web.cern.ch/certify/allRunsRefRuns/")
# Certhelper's owners ask for few calls: once a day by default, never twice within an hour.
CERTHELPER_MIN_INTERVAL_S = max(envint("CERTHELPER_MIN_INTERVAL_S", "86400"), 3600)
CERTHELPER_TIMEOUT_S = envfloat("CERTHELPER_TIMEOUT_S", "60")
CERTHELPER_CA_BUNDLE = os.getenv("CERTHELPER_CA_BUNDLE", "") or True
OMS_MAX_RETRIES = envint("OMS_MAX_RETRIES", "4")
OMS_SYNC_CHUNK_RUNS = envint("OMS_SYNC_CHUNK_RUNS", "100")
OMS_SYNC_CLAIM_TTL_S = envint("OMS_SYNC_CLAIM_TTL_S", "300")
# Runs still open at the last sync are fetched again while within this many runs.
OMS_SYNC_LOOKBACK_RUNS = envint("OMS_SYNC_LOOKBACK_RUNS", "100")
OMS_SYNC_WRITE_BATCH_LS = envint("OMS_SYNC_WRITE_BATCH_LS", "10000")

# Conditions OMS does not have (README "Where each value comes from"); an empty URL
# turns that step of the conditions sync off.
# APV readout mode: the getReadOutmode service Certhelper reads (plain HTTP, slow,
# unofficial; oms_api.md section 3). At most one request a second, by its owner's grace.
# Production: http://ebutz.web.cern.ch/ebutz/cgi-bin/getReadOutmode.pl (no default: a
# test or a laptop must not call a personal CGI at CERN unasked).
APV_MODE_URL = os.getenv("APV_MODE_URL", "")
APV_MODE_TIMEOUT_S = envfloat("APV_MODE_TIMEOUT_S", "10")
APV_MODE_MAX_REQUESTS_PER_S = min(envfloat("APV_MODE_MAX_REQUESTS_PER_S", "1"), 1.0)
# A run the service knew no mode for is asked again only this many hours later.
APV_MODE_RETRY_HOURS = envfloat("APV_MODE_RETRY_HOURS", "24")
# Primary vertices: DIALS per-lumisection 1D histograms of one monitor element, read
# with a CERN SSO application's client credentials (audience: DIALS's application).
DIALS_API_URL = os.getenv("DIALS_API_URL", "https://cmsdials-api.web.cern.ch/api/v1")
DIALS_TOKEN_URL = os.getenv("DIALS_TOKEN_URL", "https://auth.cern.ch/auth/realms/cern/api-access/token")
DIALS_AUDIENCE = os.getenv("DIALS_AUDIENCE", "cms-dials-prod-confidential-app")
DIALS_CLIENT_ID = os.getenv("DIALS_CLIENT_ID", "")
DIALS_CLIENT_SECRET = envsecret("DIALS_CLIENT_SECRET")
DIALS_WORKSPACE = os.getenv("DIALS_WORKSPACE", "tracker")
DIALS_PV_ME = os.getenv("DIALS_PV_ME", "OfflinePV/offlinePrimaryVertices/vtxNbr")
DIALS_TIMEOUT_S = envfloat("DIALS_TIMEOUT_S", "30")
DIALS_MAX_REQUESTS_PER_S = envfloat("DIALS_MAX_REQUESTS_PER_S", "2")
DIALS_CA_BUNDLE = os.getenv("DIALS_CA_BUNDLE", "") or True
DIALS_TOKEN_URL = _https_or_loopback("DIALS_TOKEN_URL", DIALS_TOKEN_URL)
DIALS_API_URL = _https_or_loopback("DIALS_API_URL", DIALS_API_URL) if DIALS_API_URL else ""
CONDITIONS_MAX_RETRIES = envint("CONDITIONS_MAX_RETRIES", "2")
# The beat's conditions sync (no range) looks this many run numbers below the newest run.
CONDITIONS_LOOKBACK_RUNS = envint("CONDITIONS_LOOKBACK_RUNS", "1000")
# The Run Registry (tracker certification and dataset states): a CERN SSO
# machine-to-machine application for the RR SSO proxy, as the runregistry client uses.
RUNREGISTRY_API_URL = _https_or_loopback(
    "RUNREGISTRY_API_URL", os.getenv("RUNREGISTRY_API_URL", "https://cmsrunregistry.web.cern.ch/api")
)
RUNREGISTRY_TOKEN_URL = _https_or_loopback(
    "RUNREGISTRY_TOKEN_URL",
    os.getenv("RUNREGISTRY_TOKEN_URL", "https://auth.cern.ch/auth/realms/cern/api-access/token"),
)
RUNREGISTRY_AUDIENCE = os.getenv("RUNREGISTRY_AUDIENCE", "cmsrunregistry-sso-proxy")
RUNREGISTRY_CLIENT_ID = os.getenv("RUNREGISTRY_CLIENT_ID", "")
RUNREGISTRY_CLIENT_SECRET = envsecret("RUNREGISTRY_CLIENT_SECRET")
RUNREGISTRY_CA_BUNDLE = os.getenv("RUNREGISTRY_CA_BUNDLE", "") or True
RUNREGISTRY_TIMEOUT_S = envfloat("RUNREGISTRY_TIMEOUT_S", "30")
RUNREGISTRY_MAX_RETRIES = envint("RUNREGISTRY_MAX_RETRIES", "3")

# --- Recommender -------------------------------------------------------------
MODEL_DIR = Path(os.getenv("MODEL_DIR", VAR_DIR / "models"))
# Where the real CMS dumps live, when a deployment has them (e.g. ../shared/data).
REFRUN_DATA = os.getenv("REFRUN_DATA", "")
# A declaration in use looks stale to the leaders after this many decisions in a row,
# in its scope, for another reference than the declared one.
DECLARATION_STALE_AFTER = envint("DECLARATION_STALE_AFTER", "5")

# --- Model artifacts -------------------------------------------------------------
# Where training stores a model's joblib bytes: "database" (every web and worker pod
# reads them; pods share no filesystem) or "files" under MODEL_DIR (one machine).
# Each version remembers its store, so switching keeps older versions loadable.
MODEL_STORE = os.getenv("MODEL_STORE", "database").strip().lower()
if MODEL_STORE not in {"database", "files"}:
    raise ImproperlyConfigured(f"MODEL_STORE must be 'database' or 'files', got {MODEL_STORE!r}")

# --- Operations: health, metrics, logs (operations/) -------------------------------
# /healthz (alive, no I/O) and /readyz (database migrated, broker, active model) are
# answered before host validation and the HTTPS redirect: probes call the pod's address.
# /metrics: django-prometheus for requests and the database, RefRun's figures read from
# the database at scrape time. Readable from METRICS_ALLOWED_CIDRS (direct connections
# only) or with `Authorization: Bearer $METRICS_TOKEN`; 403 for anyone else.
INSTALLED_APPS += ["django_prometheus", "operations"]
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "operations.middleware.RequestIdMiddleware",
    "operations.middleware.ProbeMiddleware",
    *MIDDLEWARE,
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# Query counts and latencies per database, through django-prometheus's backend wrappers.
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends.", 1
)
READINESS_TIMEOUT_S = envfloat("READINESS_TIMEOUT_S", "2")
METRICS_TOKEN = envsecret("METRICS_TOKEN")
METRICS_ALLOWED_CIDRS = [c.strip() for c in os.getenv("METRICS_ALLOWED_CIDRS", "127.0.0.1/32,::1/128").split(",")]
METRICS_ALLOWED_CIDRS = [c for c in METRICS_ALLOWED_CIDRS if c]
for _cidr in METRICS_ALLOWED_CIDRS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_CIDRS: {_cidr!r} is not an address or network") from None

# LOG_FORMAT=json: one JSON object per line (timestamp, level, logger, message,
# request_id, user, run) for the cluster's log collector; text otherwise. Every line
# written during a request carries its id (X-Request-ID, kept if the caller sent a sane one).
LOG_FORMAT = os.getenv("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', got {LOG_FORMAT!r}")
# One line per request (method, path, status, duration); on by default with JSON logs,
# where it replaces the web server's access log.
LOG_REQUESTS = envbool("LOG_REQUESTS", "true" if LOG_FORMAT == "json" else "false")
LOGGING.setdefault("filters", {})["request_context"] = {"()": "operations.logs.RequestContextFilter"}
LOGGING["formatters"]["plain"]["class"] = "operations.logs.PlainFormatter"
LOGGING["formatters"]["json"] = {"class": "operations.logs.JsonFormatter"}
LOGGING["handlers"]["console"].setdefault("filters", []).append("request_context")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"
# The worker logs through the same handler (and format) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# --- Links out to the CMS web tools ---------------------------------------------
# The run page links each run and reference to these; name another instance (a test
# DQM GUI, the OMS integration host) by setting them.
DQM_GUI_URL = os.getenv("DQM_GUI_URL", "https://cmsweb.cern.ch/dqm/offline/")
OMS_WEB_URL = os.getenv("OMS_WEB_URL", "https://cmsoms.cern.ch")
