"""Préau settings: ONE file, everything from environment variables.

Defaults run the product right after cloning: SQLite under PREAU_DATA_DIR
(./data), console e-mail, DEBUG on. Production sets DATABASE_URL
(postgres://...), PREAU_SECRET_KEY (or PREAU_SECRET_KEY_FILE), DEBUG=0,
ALLOWED_HOSTS and the SMTP variables. See docs/deployment.md.
"""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r}: expected a boolean (1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_secret(name: str, default: str) -> str:
    """A secret from NAME, or from the file named by NAME_FILE (systemd credentials, Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


DATA_DIR = Path(os.environ.get("PREAU_DATA_DIR", BASE_DIR / "data")).resolve()
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("PREAU_SECRET_KEY", "dev-only-insecure-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("PREAU_SECRET_KEY (or PREAU_SECRET_KEY_FILE) must be set when DEBUG is off")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_filters",
    "django_htmx",
    "preau.core",
    "preau.accounts",
    "preau.territory",
    "preau.fleet",
    "preau.contents",
    "preau.helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

if not DEBUG:  # production: static files collected into STATIC_ROOT (`preau collectstatic`), served by WhiteNoise
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "preau.urls"
WSGI_APPLICATION = "preau.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "preau" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "preau.core.context.nav",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'preau.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "fr")
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "preau" / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "preau" / "static"]
MEDIA_ROOT = DATA_DIR / "media"

# Uploads: imports are streamed to a temporary file; the importer enforces its own limit.
PREAU_UPLOAD_MAX_BYTES = env_int("PREAU_UPLOAD_MAX_BYTES", 100 * 1024 * 1024)
# Inventory agents (FusionInventory / GLPI Agent): optional shared secret (HTTP Basic password) and the
# largest inventory accepted once decompressed.
PREAU_AGENT_TOKEN = env_secret("PREAU_AGENT_TOKEN", "")
PREAU_AGENT_MAX_BYTES = env_int("PREAU_AGENT_MAX_BYTES", 5 * 1024 * 1024)
# Contents: the engine's store (chunks, signed manifests) and the publishing key (Ed25519, secret;
# created on first use when missing — in production, provide it and keep it out of backups' reach).
PREAU_CONTENT_STORE = os.environ.get("PREAU_CONTENT_STORE", str(DATA_DIR / "contents" / "store"))
PREAU_CONTENT_KEY = os.environ.get("PREAU_CONTENT_KEY", str(DATA_DIR / "contents" / "publisher.key"))
# Server folders releases may be published from (nothing outside it).
PREAU_CONTENT_IMPORT_ROOT = os.environ.get("PREAU_CONTENT_IMPORT_ROOT", str(DATA_DIR / "contents" / "incoming"))
# Publishing from an uploaded archive: where uploads wait for their job, the most bytes (once extracted) and members.
PREAU_CONTENT_UPLOADS = os.environ.get("PREAU_CONTENT_UPLOADS", str(DATA_DIR / "contents" / "uploads"))
PREAU_CONTENT_UPLOAD_MAX_BYTES = env_int("PREAU_CONTENT_UPLOAD_MAX_BYTES", 20 * 1024 ** 3)
PREAU_CONTENT_UPLOAD_MAX_FILES = env_int("PREAU_CONTENT_UPLOAD_MAX_FILES", 200_000)
# Production: nginx serves the store; the app answers X-Accel-Redirect to this internal location (e.g. /_store/).
PREAU_CONTENT_X_ACCEL = os.environ.get("PREAU_CONTENT_X_ACCEL") or None
# The store's public address given to NAS at enrolment (default: this server's /contenus/store/).
PREAU_CONTENT_STORE_URL = os.environ.get("PREAU_CONTENT_STORE_URL") or None
# Refused enrolment codes per address in 10 minutes before 429; seconds a NAS's store login is remembered.
PREAU_CONTENT_ENROL_MAX_FAILURES = env_int("PREAU_CONTENT_ENROL_MAX_FAILURES", 10)
PREAU_CONTENT_AUTH_CACHE_SECONDS = env_int("PREAU_CONTENT_AUTH_CACHE_SECONDS", 30)
# A NAS silent for longer than this many days is flagged.
PREAU_NAS_SILENT_DAYS = env_int("PREAU_NAS_SILENT_DAYS", 7)
# Assistance: working hours of the school calendar (deadlines count only these; Monday = 0), the working
# hours before a resolution deadline when its warning goes out, how long the answer-by-link in e-mails
# works, and the attachments' limits (a file, a message, the longest side of a stored photo).
PREAU_HELPDESK_HOURS = os.environ.get("PREAU_HELPDESK_HOURS", "08:30-16:30")
PREAU_HELPDESK_WORKDAYS = os.environ.get("PREAU_HELPDESK_WORKDAYS", "0,1,2,3,4")
PREAU_HELPDESK_WARN_HOURS = env_int("PREAU_HELPDESK_WARN_HOURS", 4)
PREAU_HELPDESK_REPLY_DAYS = env_int("PREAU_HELPDESK_REPLY_DAYS", 30)
PREAU_HELPDESK_ATTACHMENT_MAX_BYTES = env_int("PREAU_HELPDESK_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
PREAU_HELPDESK_ATTACHMENT_MAX_COUNT = env_int("PREAU_HELPDESK_ATTACHMENT_MAX_COUNT", 6)
PREAU_HELPDESK_IMAGE_MAX_PX = env_int("PREAU_HELPDESK_IMAGE_MAX_PX", 1600)
# Age in seconds past which the figures page's current school year is recomputed in the background (every
# year together: six times that; a past year: a day).
PREAU_HELPDESK_FIGURES_MAX_AGE_SECONDS = env_int("PREAU_HELPDESK_FIGURES_MAX_AGE_SECONDS", 600)
# A device bought longer ago than this is "too old" on a school's equipment section.
PREAU_FLEET_OLD_YEARS = env_int("PREAU_FLEET_OLD_YEARS", 7)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if not os.environ.get("EMAIL_HOST") else
    "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "preau@localhost")

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Préau API",
    "DESCRIPTION": "Territory of the digital plan of primary schools: communes, schools, classes, connectivity.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Cache: job progress and cancel flags. Per-process memory by default (jobs run in a thread of the
# web process); set REDIS_URL when `preau worker` runs jobs in other processes.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
