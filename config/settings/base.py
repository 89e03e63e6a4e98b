"""Settings shared by every environment, each read from the environment (or .env) in this one place."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

# --- core ---------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-secret-key-change-me-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
TIME_ZONE = env("SERVICE_TIME_ZONE", default="Asia/Seoul")
USE_TZ = True
# The admin and the API's error messages speak the language the browser or app asks for
# (Accept-Language, through LocaleMiddleware); English when it asks for neither.
LANGUAGE_CODE = "en"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # locale/ko/LC_MESSAGES/django.po; the .mo is built (bin/_bootstrap, Dockerfile)
USE_I18N = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
SITE_ID = 1
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.postgres",
    "config.apps.ConfigConfig",  # startup: Django's middleware on the event loop
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "accounts",
    "knowledge",
    "billing",
    "coach",
]

MIDDLEWARE = [
    "config.observability.middleware.ObservabilityMiddleware",  # first: sees every response
    "config.health.HealthzMiddleware",  # before anything reads the Host header (ALLOWED_HOSTS)
    "config.middleware.ApiErrorMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",  # before anything reads the body
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.StaticFilesMiddleware",  # WhiteNoise, without leaving the event loop for API requests
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # after sessions, before CommonMiddleware (Django's order)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

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
            ],
        },
    },
]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# --- data stores --------------------------------------------------------------------------------
# Unset: the embedded servers that `bin/run` starts (dev/embedded.py) on these loopback ports.
EMBEDDED_PG_PORT = env.int("EMBEDDED_PG_PORT", default=54329)
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=63799)
DATABASES = {"default": env.db("DATABASE_URL", default=f"postgres://postgres@127.0.0.1:{EMBEDDED_PG_PORT}/gamecoach")}
DATABASES["default"]["ENGINE"] = "config.db"  # Django's PostgreSQL backend, refusing at once while it is down
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=3)
# DB_SERVER_SIDE_BINDING: send query parameters apart from the SQL (the extended protocol) instead of
#   quoting them into its text in Python: a question's 384-number vector is no longer turned into a
#   literal twice per search (about 2 ms less CPU per question across the app and PostgreSQL, measured
#   with bin/bench). False restores client-side binding.
DATABASES["default"]["OPTIONS"]["server_side_binding"] = env.bool("DB_SERVER_SIDE_BINDING", default=True)
# DB_PREPARED_STATEMENTS: psycopg prepares a statement on a connection once it has run there 5 times (psycopg's own
#   threshold; Django turns it off unless asked), so PostgreSQL stops parsing and planning the same few statements
#   on every question: about 0.9 ms less PostgreSQL CPU a miss, 0.6 an exact hit (bin/bench). The raw SQL
#   names its columns (no SELECT *), so a column added by a migration does not break a prepared statement. Behind
#   PgBouncer in transaction mode it needs PgBouncer 1.21+ with max_prepared_statements set; else set it false.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5 if env.bool("DB_PREPARED_STATEMENTS", default=True) else None
# DB_POOL_MAX_SIZE: PostgreSQL connections each process keeps in a psycopg pool (0: no pool). Under
#   ASGI Django runs each request's database work on a thread of its own, so a persistent connection
#   (CONN_MAX_AGE) is never reused: every request paid for a new connection (a PostgreSQL backend, ~5 ms
#   of CPU across both sides) and the abandoned ones piled up to max_connections (measured with bin/bench).
#   The pool lends a connection until the request ends (or the ask pipeline hands it back before
#   waiting on the LLM). DB_POOL_MIN_SIZE: kept open while idle. DB_POOL_TIMEOUT: seconds a request
#   waits for a free connection, then 503 database_unavailable. DB_CONN_MAX_AGE applies without a pool.
# DB_POOL_RETRY_SECONDS: once an attempt to connect finds PostgreSQL down, a request that finds no idle pooled
#   connection gets its 503 at once instead of waiting DB_POOL_TIMEOUT (config/db/base.py), and the pool tries to
#   connect again about this often, so it is back within about this long after PostgreSQL is.
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=32)
if DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(env.int("DB_POOL_MIN_SIZE", default=2), DB_POOL_MAX_SIZE),
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        "reconnect_timeout": env.float("DB_POOL_RETRY_SECONDS", default=1.0),
    }

REDIS_URL = env("REDIS_URL", default=f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
        },
        "KEY_PREFIX": "gc",
    }
}

# --- celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_SERIALIZER = "json"

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Game Coach API",
    "DESCRIPTION": "Google sign-in, plans and quotas, and an AI coach that answers from curated guides.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- JWT (our own sessions) ---------------------------------------------------------------------
JWT_SECRET = env("JWT_SECRET", default="dev-only-jwt-secret-change-me-0123456789abcdef")
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SECRET,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=30)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=30)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.AccessToken",),  # refused unless user_id is one of our ids
}

# --- accounts -----------------------------------------------------------------------------------
# GOOGLE_CLIENT_IDS: comma-separated OAuth client ids (iOS, Android, web) whose Google ID tokens we
#   accept as `aud`. They become allauth's Google apps; apps added in the admin (SocialApp) count too.
#   Empty: POST /auth/google answers 503 google_sign_in_not_configured.
# GOOGLE_CERTS_URL: Google's signing keys as a JWK set (the v3 certs document).
# GOOGLE_CERTS_TIMEOUT: seconds to wait for that document before answering 503 google_keys_unavailable.
# GOOGLE_CERTS_REFETCH_SECONDS: an ID token with an unknown `kid` refetches the keys at most once per
#   this many seconds, so tokens with made-up kids cannot make us hammer Google.
# The keys are cached in Redis for the max-age Google sends (GOOGLE_CERTS_DEFAULT_MAX_AGE without one).
GOOGLE_CLIENT_IDS = env.list("GOOGLE_CLIENT_IDS", default=[])
GOOGLE_CERTS_URL = env("GOOGLE_CERTS_URL", default="https://www.googleapis.com/oauth2/v3/certs")
GOOGLE_CERTS_TIMEOUT = env.float("GOOGLE_CERTS_TIMEOUT", default=5.0)
GOOGLE_CERTS_REFETCH_SECONDS = env.int("GOOGLE_CERTS_REFETCH_SECONDS", default=60)
GOOGLE_CERTS_DEFAULT_MAX_AGE = env.int("GOOGLE_CERTS_DEFAULT_MAX_AGE", default=3600)
# allauth's own CERTS_URL setting is left alone: its web flow expects the v1 (PEM) document.
# The app's client ids are "hidden" apps: they name accepted audiences only, so allauth's web flow
# (which wants exactly one visible app) picks the staff web client below.
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {
    "google": {
        "APPS": [
            {"client_id": client_id, "secret": "", "key": "", "settings": {"hidden": True}}
            for client_id in GOOGLE_CLIENT_IDS
        ]
    }
}
# --- staff: Google sign-in to the admin (allauth's web flow, docs/staff.md) ---------------------
# STAFF_GOOGLE_CLIENT_ID / STAFF_GOOGLE_CLIENT_SECRET: a Google "Web application" OAuth client whose
#   authorised redirect URI is https://<host>/staff/auth/google/login/callback/. Unset: the admin login
#   page shows no Google button and takes passwords only.
# STAFF_GOOGLE_DOMAINS: comma-separated Google Workspace domains whose verified accounts may sign in as
#   staff (matched against Google's `hd` claim, so a personal Google account with a work address is not
#   enough). STAFF_GOOGLE_EMAILS: comma-separated single addresses allowed as well (Gmail or Workspace).
# GOOGLE_AUTHORIZE_URL / GOOGLE_TOKEN_URL / GOOGLE_USERINFO_URL: Google's OAuth endpoints, read by allauth
#   once at start-up (the tests point them at a stand-in on loopback).
STAFF_GOOGLE_CLIENT_ID = env("STAFF_GOOGLE_CLIENT_ID", default="")
STAFF_GOOGLE_CLIENT_SECRET = env("STAFF_GOOGLE_CLIENT_SECRET", default="")
STAFF_GOOGLE_DOMAINS = [domain.lower().lstrip("@") for domain in env.list("STAFF_GOOGLE_DOMAINS", default=[])]
STAFF_GOOGLE_EMAILS = [email.lower() for email in env.list("STAFF_GOOGLE_EMAILS", default=[])]
# STAFF_GOOGLE_GROUP: the group an account joins when a Google sign-in makes it staff ("" for none); made,
#   when missing, with the content curation permissions (accounts/staff.py; `manage.py staff_group`).
STAFF_GOOGLE_GROUP = env("STAFF_GOOGLE_GROUP", default="staff")
if STAFF_GOOGLE_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["google"]["APPS"].append(
        {
            "client_id": STAFF_GOOGLE_CLIENT_ID,
            "secret": STAFF_GOOGLE_CLIENT_SECRET,
            "key": "",
            "settings": {"staff": True},
        }
    )
SOCIALACCOUNT_PROVIDERS["google"].update(
    {
        "AUTHORIZE_URL": env("GOOGLE_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth"),
        "ACCESS_TOKEN_URL": env("GOOGLE_TOKEN_URL", default="https://oauth2.googleapis.com/token"),
        "IDENTITY_URL": env("GOOGLE_USERINFO_URL", default="https://openidconnect.googleapis.com/v1/userinfo"),
        "SCOPE": ["openid", "email", "profile"],
        "AUTH_PARAMS": {"prompt": "select_account"},
    }
)
SOCIALACCOUNT_LOGIN_ON_GET = False  # the admin's button POSTs (with its CSRF token) to start the flow
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
# Linking a Google identity to an existing account by email is accounts.services' rule, not allauth's.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False

# --- OpenAI and embeddings ----------------------------------------------------------------------
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="") or None
EMBEDDING_MODEL = env("EMBEDDING_MODEL", default="text-embedding-3-small")
EMBEDDING_DIM = env.int("EMBEDDING_DIM", default=384)
# OFFLINE_EMBEDDER: without OPENAI_API_KEY, "e5" (multilingual-e5-small, in-process: matches Korean
# questions to English guides) or "hash" (hashed character n-grams: microseconds, one language at a time).
OFFLINE_EMBEDDER = env("OFFLINE_EMBEDDER", default="e5")
if OFFLINE_EMBEDDER not in ("e5", "hash"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"OFFLINE_EMBEDDER must be e5 or hash, not {OFFLINE_EMBEDDER!r}")
TIKTOKEN_CACHE_DIR = env("TIKTOKEN_CACHE_DIR", default=str(BASE_DIR / "var" / "tiktoken"))

# --- billing ------------------------------------------------------------------------------------
# PLANS_EXTRA_JSON: plans added to / overriding the built-in table in billing/plans.py, a JSON object
#   {"premium": {"model": "gpt-4o", "fallback_model": "gpt-4o-mini", "prompt_tokens": 4000,
#    "response_tokens": 1024, "calls": 300, "period": "month", "rank": 30}}.
PLANS_EXTRA = env.json("PLANS_EXTRA_JSON", default={})
# REVENUECAT_WEBHOOK_AUTH: the exact Authorization header value set on the RevenueCat dashboard's
#   webhook. Empty: the webhook refuses every delivery (503 webhook_not_configured).
REVENUECAT_WEBHOOK_AUTH = env("REVENUECAT_WEBHOOK_AUTH", default="")
# REVENUECAT_API_KEY: a secret (sk_...) REST API v1 key, used to re-read a subscriber after each event.
# REVENUECAT_API_BASE_URL: RevenueCat's REST API (tests point it at a local server).
# REVENUECAT_TIMEOUT_SECONDS / REVENUECAT_HTTP_RETRIES: per request, and retries on 429/5xx/refused.
REVENUECAT_API_KEY = env("REVENUECAT_API_KEY", default="")
REVENUECAT_API_BASE_URL = env("REVENUECAT_API_BASE_URL", default="https://api.revenuecat.com")
REVENUECAT_TIMEOUT_SECONDS = env.float("REVENUECAT_TIMEOUT_SECONDS", default=5.0)
REVENUECAT_HTTP_RETRIES = env.int("REVENUECAT_HTTP_RETRIES", default=2)
# REVENUECAT_ENTITLEMENT_PLANS_JSON / REVENUECAT_PRODUCT_PLANS_JSON: which RevenueCat entitlement id,
#   or store product id, grants which plan ({"basic": "basic", "basic_special": "basic_special"}).
REVENUECAT_ENTITLEMENT_PLANS = env.json(
    "REVENUECAT_ENTITLEMENT_PLANS_JSON", default={"basic": "basic", "basic_special": "basic_special"}
)
REVENUECAT_PRODUCT_PLANS = env.json("REVENUECAT_PRODUCT_PLANS_JSON", default={})
# REVENUECAT_ALLOW_SANDBOX: sandbox (test store) purchases grant plans too; only for development.
REVENUECAT_ALLOW_SANDBOX = env.bool("REVENUECAT_ALLOW_SANDBOX", default=False)
# REVENUECAT_RETRY_SECONDS: first wait before an event whose REST re-read failed is tried again
#   (doubling per attempt, at most an hour); the beat re-queues whatever is still pending.
REVENUECAT_RETRY_SECONDS = env.int("REVENUECAT_RETRY_SECONDS", default=60)
# BILLING_USAGE_RETENTION_DAYS: usage counters and call records older than this are deleted by beat.
BILLING_USAGE_RETENTION_DAYS = env.int("BILLING_USAGE_RETENTION_DAYS", default=400)

# GAME_CACHE_SECONDS: each process keeps a copy of the games table for the ask path (knowledge.games);
#   a renamed or removed game reaches other processes within this. A new game is seen at once.
GAME_CACHE_SECONDS = env.float("GAME_CACHE_SECONDS", default=30)

# --- coach cache --------------------------------------------------------------------------------
# COACH_CACHE_REDIS_URL: the Redis both coach caches use (default REDIS_URL). Either cache fails
#   open: Redis down is a logged miss, never an error; COACH_CACHE_TIMEOUT_SECONDS bounds each call
#   and after a connection failure Redis is skipped for COACH_CACHE_RETRY_SECONDS.
COACH_CACHE_REDIS_URL = env("COACH_CACHE_REDIS_URL", default=REDIS_URL)
COACH_CACHE_TIMEOUT_SECONDS = env.float("COACH_CACHE_TIMEOUT_SECONDS", default=0.5)
COACH_CACHE_RETRY_SECONDS = env.float("COACH_CACHE_RETRY_SECONDS", default=2.0)
# EXACT_CACHE_TTL_SECONDS: the same user, game and normalised question within this reuses the answer.
EXACT_CACHE_TTL_SECONDS = env.float("EXACT_CACHE_TTL_SECONDS", default=300)
# QUESTION_VECTOR_TTL_SECONDS: a question's embedding from the provider is kept this long under its model and
#   normalised text, so the same question from another player is not embedded again (coach.services.cache.question;
#   about 1.6 KB of Redis a question at 384 dimensions).
QUESTION_VECTOR_TTL_SECONDS = env.float("QUESTION_VECTOR_TTL_SECONDS", default=86400)
# The semantic cache runs on COACH_CACHE_REDIS_URL's search module (Redis 8, or Valkey with RediSearch),
#   probed once per process; against a Redis without it the semantic cache is off (the exact cache still
#   works) and /readyz says "off".
# SEMANTIC_CACHE_TTL_SECONDS: how long an answered question may answer similar ones (entries are also
#   dropped when a source document changes or the answer is down-voted).
SEMANTIC_CACHE_TTL_SECONDS = env.float("SEMANTIC_CACHE_TTL_SECONDS", default=86400)
# SEMANTIC_CACHE_MAX_DISTANCE: the cosine distance under which a cached question may answer a new one,
#   for embedding models the benchmark has not measured (OpenAI's). The offline embedders have their own,
#   chosen by bench/semantic_cache.py on its dev pairs (coach.services.cache.semantic.MAX_DISTANCE_BY_MODEL:
#   e5 0.06, hash 0.28); every model spreads questions differently, so re-run the benchmark before changing
#   models or this value.
# SEMANTIC_CACHE_GUARD: a near question is served only when coach.services.guard agrees: the same game
#   entities (the game's catalogue and glossary, any spelling) in the same roles around relation words (vs,
#   상대로, 카운터...), the same numbers with versions compared as written (14.1 is not 14.10), no added or
#   removed negation, and the same topic words (role, rank, queue, team/duo, counter vs build). With e5 and
#   the guard, bench/semantic_cache.py serves 93% of the same-meaning pairs it never tuned on with 0 wrong
#   answers of 73 look-alikes, where without it some look-alikes get a wrong answer. Off only to measure what
#   it is worth.
SEMANTIC_CACHE_MAX_DISTANCE = env.float("SEMANTIC_CACHE_MAX_DISTANCE", default=0.14)
SEMANTIC_CACHE_GUARD = env.bool("SEMANTIC_CACHE_GUARD", default=True)
# SEMANTIC_CACHE_VERIFY_MODEL: with OPENAI_API_KEY set, a hit that passed the guard is also confirmed by one
#   yes/no call of this (small) model, or answered as a miss; its cost is the hit's cost_usd and comes off
#   the money the hit saves (coach.services.cache.verify). Empty: off. The benchmark found it does not pay
#   with the guard on (a model round trip on every hit for wrong hits the guard already refuses).
#   SEMANTIC_CACHE_VERIFY_TIMEOUT_SECONDS: how long that call may take before the hit is refused.
SEMANTIC_CACHE_VERIFY_MODEL = env("SEMANTIC_CACHE_VERIFY_MODEL", default="")
SEMANTIC_CACHE_VERIFY_TIMEOUT_SECONDS = env.float("SEMANTIC_CACHE_VERIFY_TIMEOUT_SECONDS", default=3.0)
# SEMANTIC_CACHE_CANDIDATES: nearest entries read per lookup; the closest that passes the guard wins.
SEMANTIC_CACHE_CANDIDATES = env.int("SEMANTIC_CACHE_CANDIDATES", default=5)
# SEMANTIC_CACHE_GLOSSARY_SECONDS: how long a game's glossary is reused in-process before re-reading.
SEMANTIC_CACHE_GLOSSARY_SECONDS = env.float("SEMANTIC_CACHE_GLOSSARY_SECONDS", default=60)

# --- coach llm ----------------------------------------------------------------------------------
# The provider: OPENAI_API_KEY set -> the OpenAI SDK (OPENAI_BASE_URL: any OpenAI-compatible server);
#   unset -> the offline provider, which answers from the retrieved sources at no cost.
# OPENAI_TIMEOUT_SECONDS: how long one attempt may wait (for the answer, or between streamed chunks)
#   before it counts as a timeout. OPENAI_MAX_CONNECTIONS: how many LLM calls one process keeps in
#   flight at once (its connection pools together).
OPENAI_TIMEOUT_SECONDS = env.float("OPENAI_TIMEOUT_SECONDS", default=30.0)
OPENAI_MAX_CONNECTIONS = env.int("OPENAI_MAX_CONNECTIONS", default=1000)
# OPENAI_CONNECTIONS_PER_CLIENT: those connections are split over clients of this many each, because
#   one huge pool costs more CPU per call than several small ones (see ai.llm.async_client).
OPENAI_CONNECTIONS_PER_CLIENT = env.int("OPENAI_CONNECTIONS_PER_CLIENT", default=64)
# LLM_MAX_RETRIES / LLM_BACKOFF_SECONDS: the customer's policy, waits of 1 -> 2 -> 4 s and at most 3
#   retries on 429 (not insufficient_quota), 5xx, timeouts and refused connections; a Retry-After
#   from the provider replaces the wait. LLM_RETRY_AFTER_MAX_SECONDS: a longer Retry-After is not
#   waited for: the player gets 503 at once, with that Retry-After.
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=3)
LLM_BACKOFF_SECONDS = env.float("LLM_BACKOFF_SECONDS", default=1.0)
LLM_RETRY_AFTER_MAX_SECONDS = env.float("LLM_RETRY_AFTER_MAX_SECONDS", default=20.0)
# LLM_TEMPERATURE: for chat models (o-series reasoning models take none).
# LLM_REASONING_EFFORT: low | medium | high for o-series models; empty sends none (the model's default).
LLM_TEMPERATURE = env.float("LLM_TEMPERATURE", default=0.3)
LLM_REASONING_EFFORT = env("LLM_REASONING_EFFORT", default="low")
# LLM_RETIRED_MODEL_SECONDS: after a model answers 404 (retired/unknown), calls go straight to the
#   plan's fallback model for this long, instead of paying a failed call each time.
LLM_RETIRED_MODEL_SECONDS = env.float("LLM_RETIRED_MODEL_SECONDS", default=600)
# LLM_SUMMARY_MODEL / LLM_SUMMARY_MAX_TOKENS: summarize_chunk() for over-long pieces at ingestion.
LLM_SUMMARY_MODEL = env("LLM_SUMMARY_MODEL", default="gpt-4o-mini")
LLM_SUMMARY_MAX_TOKENS = env.int("LLM_SUMMARY_MAX_TOKENS", default=600)
# COACH_HISTORY_TURNS: the conversation's last turns that go into the prompt (0: none).
# COACH_PROMPT_TEMPLATES_DIR: holds system_prompt/<game>.j2 (default.j2 otherwise) and coach/user_prompt.j2.
COACH_HISTORY_TURNS = env.int("COACH_HISTORY_TURNS", default=3)
COACH_PROMPT_TEMPLATES_DIR = env("COACH_PROMPT_TEMPLATES_DIR", default=str(BASE_DIR / "templates"))

# --- knowledge ----------------------------------------------------------------------------------
# RETRIEVAL_TOP_K: chunks retrieved per question when the caller does not say.
RETRIEVAL_TOP_K = env.int("RETRIEVAL_TOP_K", default=5)
# RETRIEVAL_EXACT_MAX_ROWS: a filtered set of at most this many chunks is searched exactly (the true
#   top-k, ~0.4 us a row: 10k rows 6-8 ms at 1M chunks); a larger one through the HNSW index, which
#   misses for queries far from a small set (recall 0.2-0.3 when the filter keeps 1% of 1M chunks).
RETRIEVAL_EXACT_MAX_ROWS = env.int("RETRIEVAL_EXACT_MAX_ROWS", default=20000)
# RETRIEVAL_HNSW_EF_SEARCH / RETRIEVAL_HNSW_MAX_SCAN_TUPLES: hnsw.ef_search and hnsw.max_scan_tuples
#   (how far an iterative scan may walk) on the HNSW path; at 1M chunks ef_search 100 gave recall
#   0.97 unfiltered, 160 gave 0.99. RETRIEVAL_HNSW_CANDIDATES: rows taken from the index's walk (relaxed
#   order: roughly nearest first) and put in exact order (at least k; more only lengthens filtered walks).
RETRIEVAL_HNSW_EF_SEARCH = env.int("RETRIEVAL_HNSW_EF_SEARCH", default=160)
RETRIEVAL_HNSW_MAX_SCAN_TUPLES = env.int("RETRIEVAL_HNSW_MAX_SCAN_TUPLES", default=20000)
RETRIEVAL_HNSW_CANDIDATES = env.int("RETRIEVAL_HNSW_CANDIDATES", default=10)
# CHUNK_TOKENS / CHUNK_OVERLAP_TOKENS: the size of a stored chunk and what consecutive chunks share.
CHUNK_TOKENS = env.int("CHUNK_TOKENS", default=400)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=60)
# CHUNK_SUMMARIZE_OVER_TOKENS: a piece (a paragraph, or a subtitle passage) longer than this goes
#   through knowledge.summaries.summarize_chunk() before it is stored (the customer's rule).
CHUNK_SUMMARIZE_OVER_TOKENS = env.int("CHUNK_SUMMARIZE_OVER_TOKENS", default=1200)
# CHUNK_TOKEN_MODEL: the model whose tokenizer counts chunk tokens (the chat models that read them).
CHUNK_TOKEN_MODEL = env("CHUNK_TOKEN_MODEL", default="gpt-4o-mini")
# SUBTITLE_PASSAGE_TOKENS: .srt/.vtt cues are merged into passages of about this many tokens.
SUBTITLE_PASSAGE_TOKENS = env.int("SUBTITLE_PASSAGE_TOKENS", default=200)
# EMBEDDING_BATCH_SIZE: texts per embeddings request, and chunks per Celery embedding task.
# EMBEDDING_TIMEOUT_SECONDS / EMBEDDING_MAX_RETRIES: per embeddings request and the SDK's own retries;
#   Celery tasks then retry with exponential backoff up to KNOWLEDGE_TASK_MAX_RETRIES times.
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=64)
EMBEDDING_TIMEOUT_SECONDS = env.float("EMBEDDING_TIMEOUT_SECONDS", default=20.0)
EMBEDDING_MAX_RETRIES = env.int("EMBEDDING_MAX_RETRIES", default=2)
KNOWLEDGE_TASK_MAX_RETRIES = env.int("KNOWLEDGE_TASK_MAX_RETRIES", default=8)
# GLOSSARY_MIN_OCCURRENCES: how often a name must recur in a game's published documents to be seeded
#   into its glossary (the semantic cache's entity guard); staff curate the result in the admin.
GLOSSARY_MIN_OCCURRENCES = env.int("GLOSSARY_MIN_OCCURRENCES", default=2)
# ENTITY_INDEX_CHECK_SECONDS: how long a process trusts its copy of a game's entity index (catalogue,
#   staff's entities, glossary) before asking the cache whether it changed; the process that changed
#   it rebuilds at once. ENTITY_INDEX_MAX_SECONDS: a copy is rebuilt at least this often regardless.
ENTITY_INDEX_CHECK_SECONDS = env.float("ENTITY_INDEX_CHECK_SECONDS", default=5)
ENTITY_INDEX_MAX_SECONDS = env.float("ENTITY_INDEX_MAX_SECONDS", default=600)
# UPLOAD_MAX_FILE_BYTES: the largest file the admin's upload takes (uploaded, or unpacked from a zip).
# UPLOAD_MAX_ZIP_MEMBERS / UPLOAD_MAX_UNPACKED_BYTES: a zip's files and their unpacked total; reads stop
#   there whatever the zip's headers claim. The request itself is limited by MAX_ADMIN_BODY_BYTES.
UPLOAD_MAX_FILE_BYTES = env.int("UPLOAD_MAX_FILE_BYTES", default=4 * 1024 * 1024)
UPLOAD_MAX_ZIP_MEMBERS = env.int("UPLOAD_MAX_ZIP_MEMBERS", default=1000)
UPLOAD_MAX_UNPACKED_BYTES = env.int("UPLOAD_MAX_UNPACKED_BYTES", default=64 * 1024 * 1024)

# --- logging ------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # httpx (the openai SDK's HTTP client, vendored as httpx2 by newer SDKs) logs every request at
    # INFO: two lines per question that the request's own line already covers (stage_ms).
    "loggers": {name: {"level": "WARNING"} for name in ("django.db.backends", "httpx", "httpx2")},
}

# --- observability ------------------------------------------------------------------------------
# LOG_FORMAT: json (one object per line: time, level, logger, message, request_id, user_id and any
#   extra fields such as path, status, duration_ms or stage timings) or text (the same fields for a
#   terminal). Both redact Authorization values, Bearer tokens, sk-... keys and JWT-shaped strings.
# METRICS_ALLOWED_IPS: client addresses or networks (CIDR) that may read /metrics; the default is
#   loopback only. Behind a proxy whose forwarded address the server trusts, prefer METRICS_TOKEN.
# METRICS_TOKEN: with it, `Authorization: Bearer <token>` may read /metrics from anywhere (empty: off).
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself): with several processes (uvicorn
#   --workers, Celery), an empty directory all of them share, wiped before they start; /metrics then
#   adds up every process's values.
LOG_FORMAT = env("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "text"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Who keeps the dashboard's daily count of asks refused with 429 quota_exceeded (called with plan=...
# by the observability middleware, which sees every refusal whoever raised it): a dotted path, so
# config names the app's function here and never imports it.
QUOTA_REJECTION_COUNTER = "coach.services.stats.quota_rejection_count"
LOGGING["filters"] = {
    "request_context": {"()": "config.observability.logs.RequestContextFilter"},
    "redact": {"()": "config.observability.logs.RedactingFilter"},
}
LOGGING["formatters"] = {
    "json": {"()": "config.observability.logs.JsonFormatter"},
    "text": {"()": "config.observability.logs.TextFormatter"},
}
LOGGING["handlers"]["console"].update(formatter=LOG_FORMAT, filters=["request_context", "redact"])
# uvicorn installs its own plain-text handlers: route its loggers through ours (Celery keeps this
# configuration: config.observability.worker answers its setup_logging signal).
# uvicorn.access only at WARNING: the request line of config.observability (method, path, route,
# status, duration, request and user ids) already says what uvicorn's access line would, so it was
# a second line per request (and LOGGING re-attaching it made `uvicorn --no-access-log` do nothing).
LOGGING["loggers"].update(
    {
        "uvicorn": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    }
)

# --- reliability: rate limits and request size --------------------------------------------------
# THROTTLE_USER_RATE: API requests per signed-in player; THROTTLE_IP_RATE: API requests per client
#   address, signed in or not (generous: Korean mobile carriers put many players behind one address);
#   THROTTLE_ASK_RATE: questions to the coach per player, on top of the plan's quota. DRF's format:
#   "240/min", "10/s", "1000/day". Over a limit: 429 `throttled` with Retry-After (config/throttles.py).
# THROTTLE_NUM_PROXIES: how many proxies of ours append to X-Forwarded-For in front of the app; 0 (the
#   default) uses the connection's address and ignores X-Forwarded-For, which a client can forge.
# THROTTLE_REDIS_URL: where the limits are counted (default REDIS_URL). When it is unreachable they
#   are counted in each process's memory instead (fail safe: never unlimited) and Redis is tried again
#   after THROTTLE_REDIS_RETRY_SECONDS; THROTTLE_REDIS_TIMEOUT_SECONDS bounds each Redis call. That
#   bound is wall time on the event loop, so the loop's own lag counts in: at 0.25 s, 20 questions
#   arriving together at a fresh server on a busy 2-vCPU machine timed out on lag alone and were
#   counted in memory, letting 8 through a 5/min limit. 1 s, as Django's cache client has, leaves
#   that to a Redis that really hangs.
THROTTLE_REDIS_URL = env("THROTTLE_REDIS_URL", default=REDIS_URL)
THROTTLE_REDIS_TIMEOUT_SECONDS = env.float("THROTTLE_REDIS_TIMEOUT_SECONDS", default=1.0)
THROTTLE_REDIS_RETRY_SECONDS = env.float("THROTTLE_REDIS_RETRY_SECONDS", default=2.0)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = [
    "config.throttles.IPRateThrottle",
    "config.throttles.UserRateThrottle",
    "config.throttles.ScopedRateThrottle",
]
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "ip": env("THROTTLE_IP_RATE", default="1200/min"),
    "user": env("THROTTLE_USER_RATE", default="240/min"),
    "ask": env("THROTTLE_ASK_RATE", default="60/min"),
}
REST_FRAMEWORK["NUM_PROXIES"] = env.int("THROTTLE_NUM_PROXIES", default=0)
# The errors every operation can give (401, 429, 503; 400/413/415 with input; 404 by id) in the schema.
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "config.schema.document_common_errors",
]
# MAX_REQUEST_BODY_BYTES (read above): larger bodies get 413 request_too_large before anything reads
#   them, on every path but the admin; MAX_ADMIN_BODY_BYTES: the admin's limit (staff paste guides
#   and subtitle files into it). Django's own DATA_UPLOAD_MAX_MEMORY_SIZE stays a backstop behind both.
MAX_REQUEST_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
MAX_ADMIN_BODY_BYTES = env.int("MAX_ADMIN_BODY_BYTES", default=8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_REQUEST_BODY_BYTES, MAX_ADMIN_BODY_BYTES)
