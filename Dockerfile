# Image for web (gunicorn), Celery worker, Celery beat and the one-shot migrate job.
# Configuration comes from the environment at run time (see .env.example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    WEB_CONCURRENCY=4

WORKDIR /app

# Unprivileged user the processes run as; the code itself stays root-owned (read-only).
RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Whole context (see .dockerignore): packages, templates/, static/, locale/, manage.py.
# PYTHONPATH=/app makes this checkout win over the site-packages copy, so BASE_DIR is /app.
COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# Static files are built into the image and served by WhiteNoise. The local settings
# need no secrets; point their filesystem broker folder at /tmp and drop it afterwards.
RUN DJANGO_SETTINGS_MODULE=config.settings.local CELERY_FS_BROKER_DIR=/tmp/celery-broker \
        python manage.py collectstatic --noinput \
    && rm -rf /tmp/celery-broker \
    && mkdir -p /app/var && chown app:app /app/var

USER app

EXPOSE 8000

CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
