# syntax=docker/dockerfile:1.7
# The service image: uvicorn (ASGI) by default; the same image runs the Celery worker and beat.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /venv
COPY requirements/ /tmp/requirements/
RUN /venv/bin/pip install -r /tmp/requirements/base.lock

# The console's translations (locale/*/django.po -> .mo, not committed): GNU gettext's msgfmt, as Django's
# compilemessages runs it (--check-format refuses a translation whose placeholders differ), kept out of the image.
FROM python:3.11-slim AS messages
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY locale/ /locale/
RUN find /locale -name django.po -execdir msgfmt --check-format -o django.mo django.po \;

FROM python:3.11-slim AS runtime
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    TIKTOKEN_CACHE_DIR=/app/var/tiktoken
RUN useradd --system --uid 10001 --home-dir /app app
WORKDIR /app
COPY --from=build /venv /venv
COPY --chown=app:app . .
COPY --from=messages --chown=app:app /locale/ /app/locale/
# collectstatic and the offline tiktoken files at build time; the dummy values never reach runtime.
RUN DJANGO_SECRET_KEY=build JWT_SECRET=build DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 DJANGO_ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput -v 0 \
 && mkdir -p /app/var && chown -R app:app /app/var
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
# --http config.server:HTTPProtocol: TCP_NODELAY, which uvicorn loses with --workers (~40 ms a response otherwise).
# --proxy-headers: X-Forwarded-For/-Proto are believed only from the proxies in FORWARDED_ALLOW_IPS (uvicorn reads
# it from the environment; 127.0.0.1 when unset), so no other client can choose its address.
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", \
     "--http", "config.server:HTTPProtocol", "--proxy-headers", "--no-access-log"]
