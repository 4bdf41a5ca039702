"""RefRun settings: one file, every value read from the environment.

With no environment set, RefRun runs on SQLite with an in-process-free Celery
broker (the filesystem transport), so a fresh checkout starts with `make run`.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

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


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = os.getenv(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


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
SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in production")
    SECRET_KEY = "refrun-development-only-key-never-use-in-production"

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
    "ingestion",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
                "recommender.context_processors.roles",
            ],
        },
    },
]

VAR_DIR = Path(os.getenv("REFRUN_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'refrun.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", "60"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a Celery worker writes an import batch.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["timeout"] = 30

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
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

# Failed logins (recommender/login.py): after this many failures within the window
# for one username, or from one client address, that username or address is locked
# out until the window ends. Counters live in the cache (CACHES below).
LOGIN_FAILURES_PER_USERNAME = envint("LOGIN_FAILURES_PER_USERNAME", "5")
LOGIN_FAILURES_PER_IP = envint("LOGIN_FAILURES_PER_IP", "20")
LOGIN_LOCKOUT_S = envint("LOGIN_LOCKOUT_S", "900")
# Behind a reverse proxy REMOTE_ADDR is the proxy's: name the header it sets
# (e.g. X-Forwarded-For; the right-most address is used, the one the proxy added).
# Leave empty when clients connect directly, or anyone could pick their address.
LOGIN_CLIENT_IP_HEADER = os.getenv("LOGIN_CLIENT_IP_HEADER", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "RefRun API",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# --- CERN SSO (OIDC) ------------------------------------------------------------
# Switched on by OIDC_RP_CLIENT_ID alone (a CERN application-portal registration);
# Django's own login stays for local accounts. Roles come from the token's role
# claim and map onto the shifters / shift_leaders groups (recommender/oidc.py).
OIDC_RP_CLIENT_ID = os.getenv("OIDC_RP_CLIENT_ID", "")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_USERNAME_CLAIM = os.getenv("OIDC_USERNAME_CLAIM", "cern_upn")
OIDC_ROLES_CLAIM = os.getenv("OIDC_ROLES_CLAIM", "cern_roles")
OIDC_SHIFTER_ROLES = [r for r in os.getenv("OIDC_SHIFTER_ROLES", "shifter").split(",") if r]
OIDC_SHIFT_LEADER_ROLES = [r for r in os.getenv("OIDC_SHIFT_LEADER_ROLES", "shift-leader").split(",") if r]
if OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS = ["recommender.oidc.RefRunOIDCBackend", "django.contrib.auth.backends.ModelBackend"]
    OIDC_RP_CLIENT_SECRET = envsecret("OIDC_RP_CLIENT_SECRET")
    _OIDC_REALM = os.getenv("OIDC_OP_REALM_URL", "https://auth.cern.ch/auth/realms/cern")
    OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/auth"
    OIDC_OP_TOKEN_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/token"
    OIDC_OP_USER_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/userinfo"
    OIDC_OP_JWKS_ENDPOINT = f"{_OIDC_REALM}/protocol/openid-connect/certs"
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_SCOPES = "openid email profile"
    OIDC_TIMEOUT = 10

# --- Cache ---------------------------------------------------------------------
# Holds the login-failure counters, so it must be shared by every web worker:
# Redis when REDIS_URL is set, otherwise files under VAR_DIR (shared by the
# gunicorn workers of one machine, no server needed). Never the per-process
# LocMemCache, which would multiply the allowed failures by the worker count.
REDIS_URL = os.getenv("REDIS_URL", "")
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
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- External services -------------------------------------------------------
OMS_API_URL = os.getenv("OMS_API_URL", "https://cmsoms.cern.ch/agg/api")
OMS_API_VERSION = os.getenv("OMS_API_VERSION", "v1")
OMS_API_AUDIENCE = os.getenv("OMS_API_AUDIENCE", "cmsoms-prod")
OMS_TOKEN_URL = os.getenv("OMS_TOKEN_URL", "https://auth.cern.ch/auth/realms/cern/api-access/token")
OMS_CLIENT_ID = os.getenv("OMS_CLIENT_ID", "")
OMS_CLIENT_SECRET = envsecret("OMS_CLIENT_SECRET")
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

# --- Recommender -------------------------------------------------------------
MODEL_DIR = Path(os.getenv("MODEL_DIR", VAR_DIR / "models"))
# Where the real CMS dumps live, when a deployment has them (e.g. ../shared/data).
REFRUN_DATA = os.getenv("REFRUN_DATA", "")
