"""Settings for every zone and environment; everything that differs comes from
environment variables (see README "Configuration")."""

from __future__ import annotations

from pathlib import Path

from config import embedded
from config.env import database_from_url, env, env_bool, env_int, secret

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded.VAR

SECRET_KEY = secret("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = (env("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver") or "").split(",")

# Which of the three networks this process serves: extranet (departments' exchange
# API), intranet (operators' console and admin), internet (public site and
# enterprise portal), or all of them (local runs).
PLATFORM_ZONE = env("PLATFORM_ZONE", "all")
if PLATFORM_ZONE not in {"extranet", "intranet", "internet", "all"}:
    raise ValueError(f"PLATFORM_ZONE must be extranet, intranet, internet or all, not {PLATFORM_ZONE!r}")
ROOT_URLCONF = f"config.urls.{PLATFORM_ZONE}"

INSTALLED_APPS = [
    "ops.console_app.ConsoleAdminConfig",  # Django's admin on a site that asks for a TOTP token (ops/console.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files of the platform's own
    "django_filters",
    "validation",
    "exchange",
    "credit",
    "ingest",
    "api",
    "public",
    "portal",
    "ops",
]

MIDDLEWARE = [
    # First, so that it signs every exchange response, even those that inner middleware answers itself
    # (a disallowed Host, a redirect); exchange-protocol §2/§3: verify requests, sign responses.
    "api.exchange.middleware.ExchangeSignatureMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the console's second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {  # the public pages (public/jinja2/): autoescaped like Django's, several times faster on record lists
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "public.templating.environment"},
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# Django's own password validators: enterprise portal accounts (portal.md §1, weak_password) and the console
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

DATABASE_URL = env("DATABASE_URL") or embedded.database_url()
DATABASES = {"default": database_from_url(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Several developers' (and CI's) test runs may share one cluster: a suffix keeps their test databases apart.
DATABASES["default"]["TEST"] = {"NAME": f"test_credit{env('TEST_DB_SUFFIX', '')}"}
# The public site reads through a role that sees only the public projection (schema public_view):
# same server and database as default, other user; PUBLIC_DATABASE_URL overrides it in production.
PUBLIC_DATABASE_ROLE = env("PUBLIC_DATABASE_ROLE", "credit_public")  # checked where used: embedded.public_role
if env("PUBLIC_DATABASE_URL"):
    DATABASES["public"] = database_from_url(env("PUBLIC_DATABASE_URL"))
else:
    # on the embedded cluster, the role's password is the checkout's (var/secrets.env, set by config/embedded.py)
    on_embedded = DATABASES["default"]["HOST"] == str(embedded.PG_RUN)
    DATABASES["public"] = {**DATABASES["default"], "USER": PUBLIC_DATABASE_ROLE,
                           "PASSWORD": embedded.public_password() if on_embedded else ""}
# No health check (a `SELECT 1` round trip before each page's one query): public.selectors reads again on a new
# connection when the kept one is dead. Statements bound server-side.
DATABASES["public"].update(CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"], CONN_HEALTH_CHECKS=False,
                           TEST={"MIRROR": "default"})  # tests/public/conftest.py reconnects it as the role
DATABASES["public"]["OPTIONS"] = {**DATABASES["public"].get("OPTIONS", {}), "server_side_binding": True}
# transaction: this process's connections go through a pooler in transaction mode (PgBouncer, deploy/pgbouncer.ini),
# which gives each transaction whichever server connection is free, so nothing may outlive a transaction on one.
# Only the internet zone keeps to that: workers and operators' commands hold session advisory locks and temporary
# tables, the exchange zone waits for batches with LISTEN; they connect directly or through a session pool.
DATABASE_POOL_MODE = env("DATABASE_POOL_MODE", "session")
if DATABASE_POOL_MODE == "session":
    # Prepared on their first run, with one plan each (planning the search costs more than running it; left to
    # choose, PostgreSQL keeps planning it afresh).
    DATABASES["public"]["OPTIONS"].update(prepare_threshold=0, options="-c plan_cache_mode=force_generic_plan")
elif DATABASE_POOL_MODE == "transaction" and PLATFORM_ZONE == "internet":
    for database in DATABASES.values():
        database["DISABLE_SERVER_SIDE_CURSORS"] = True  # a named cursor lives in the server session that opened it
        # so do prepared statements (PgBouncer keeps them per client only from 1.21); plan_cache_mode is set by the
        # pooler's connect_query, since PgBouncer refuses a client's startup options
        database["OPTIONS"]["prepare_threshold"] = None
elif DATABASE_POOL_MODE == "transaction":
    raise ValueError(f"DATABASE_POOL_MODE=transaction is for the internet zone only, not PLATFORM_ZONE={PLATFORM_ZONE}:"
                     " connect this process to PostgreSQL directly or through a session pool (deploy/README.md)")
else:
    raise ValueError(f"DATABASE_POOL_MODE must be session or transaction, not {DATABASE_POOL_MODE!r}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = True  # serve app static files directly, also before collectstatic

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL") or embedded.broker_url()
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "credit")
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is delivered again
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes every database connection before and after each task unless this is set: a new
# PostgreSQL backend and scram log-in for every batch, about a third of a one-row batch's cost in the worker. So
# a worker keeps its connection (closed after this many tasks); config/celery.py applies CONN_MAX_AGE and the
# health check around each task, as Django does around a request.
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a broker down for a while: keep reconnecting (after the default 100 tries the worker would exit)
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic tasks in their AppConfig.ready()

# Shared by every worker process (the public rate limit counts here): the embedded Redis, database 1.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL") or f"unix://{embedded.REDIS_SOCKET}?db=1",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "credit"),
    }
}

# --- Storage and keys -----------------------------------------------------------
BATCH_STORAGE_DIR = Path(env("BATCH_STORAGE_DIR", str(VAR_DIR / "batches")))
# s3://bucket/prefix keeps batch files (encrypted by the platform) in an S3-compatible bucket instead, so workers
# on any host read them; endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY (filestore/storage.py). Unset: BATCH_STORAGE_DIR.
BATCH_STORAGE_URL = env("BATCH_STORAGE_URL")
PLATFORM_SIGNING_KEY_DIR = Path(env("PLATFORM_SIGNING_KEY_DIR", str(VAR_DIR / "keys")))
# The demo departments' key pairs (manage.py load_demo), made per checkout: exchange/demo_keys.py
DEMO_KEY_DIR = Path(env("DEMO_KEY_DIR", str(VAR_DIR / "demo-keys")))
FIELD_ENCRYPTION_KEY = secret("FIELD_ENCRYPTION_KEY")  # hex, 32 bytes: AES-GCM for ID numbers
BLIND_INDEX_KEY = secret("BLIND_INDEX_KEY")  # hex, 32 bytes: HMAC-SHA256 blind index of ID numbers

# --- Exchange protocol ---------------------------------------------------------
EXCHANGE_CLOCK_SKEW_SECONDS = 300
EXCHANGE_NONCE_WINDOW_SECONDS = 600
EXCHANGE_MAX_BATCH_BYTES = env_int("EXCHANGE_MAX_BATCH_BYTES", 256 * 1024 * 1024)
EXCHANGE_MAX_BATCH_ROWS = env_int("EXCHANGE_MAX_BATCH_ROWS", 2_000_000)
# Benchmarks only: measure the cost of verification by switching it off. Never in production.
# A rotated-out platform key stays in the JWK Set this many days, so receipts it signed stay verifiable online.
EXCHANGE_RECEIPT_VERIFY_DAYS = env_int("EXCHANGE_RECEIPT_VERIFY_DAYS", 400)
# reads that wait for a batch to finish (Prefer: wait, exchange/waiting.py) hold a web thread each: at most half
# the threads of a web process (WEB_THREADS, set by config/launcher.py), so uploads and health checks always
# find one
EXCHANGE_WAITING_READS_PER_PROCESS = env_int("WEB_THREADS", 8) // 2
EXCHANGE_BENCH_SKIP_VERIFICATION = env_bool("EXCHANGE_BENCH_SKIP_VERIFICATION", False)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Public site ------------------------------------------------------------------
PUBLIC_RATE_LIMIT = env("PUBLIC_RATE_LIMIT", "120/minute")  # per client address; "off" disables it (benchmarks)
PUBLIC_CACHE_SECONDS = env_int("PUBLIC_CACHE_SECONDS", 60)
# Reverse proxies in front of us that append to X-Forwarded-For (0: the client is REMOTE_ADDR).
PUBLIC_TRUSTED_PROXIES = env_int("PUBLIC_TRUSTED_PROXIES", 0)
# The pages say "数据截至 …" (data as of) when the standby the public alias reads (PUBLIC_DATABASE_URL) is more
# than this many seconds behind its primary: a few seconds of streaming replication are normal and not worth a word.
PUBLIC_REPLICA_LAG_SECONDS = env_int("PUBLIC_REPLICA_LAG_SECONDS", 5)
# Benchmarks only: serve /bench/trivial, the baseline a public page's throughput is compared with.
PUBLIC_BENCH_VIEWS = env_bool("PUBLIC_BENCH_VIEWS", False)

# --- REST framework ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Credit information sharing platform API",
    "DESCRIPTION": "Signed exchange API for departments (exchange-protocol v1) and the public credit lookup API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # served from the platform's static files: a government intranet reaches no CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# TOTP devices name the platform in authenticator apps
OTP_TOTP_ISSUER = "信用信息共享平台"
# A code is accepted within ±1 step of the platform's clock, always (portal.md §1): no learning of a device's
# drift, which would shift the window after one early or late code
OTP_TOTP_SYNC = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # great-expectations announces its internals at INFO on every import
    "loggers": {
        "great_expectations": {"level": "WARNING"},
        # 4xx warnings would log request paths, which a careless client may fill with personal data
        "django.request": {"level": "ERROR"},
    },
}
