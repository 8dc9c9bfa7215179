#!/usr/bin/env bash
# Run the app with demo data on the embedded default: SQLite, a filesystem Celery
# broker, and a worker with an embedded beat so the 08:00 release really happens.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log
$BIN/python manage.py migrate --noinput
$BIN/python manage.py compilemessages --ignore=.venv >/dev/null 2>&1 || true
$BIN/python manage.py load_demo
$BIN/celery -A config worker --beat --concurrency 1 --loglevel INFO \
    --schedule var/celerybeat-schedule >var/log/celery.log 2>&1 &
worker=$!
trap 'kill $worker 2>/dev/null; wait $worker 2>/dev/null' EXIT INT TERM
echo "Celery worker with beat: pid $worker, log in var/log/celery.log"
echo "Open http://127.0.0.1:8000"
$BIN/python manage.py runserver 127.0.0.1:8000
