"""gunicorn settings for the web container (`gunicorn -c config/gunicorn.py …`)."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))  # sync workers, 2 per core
# A worker silent this long is killed and restarted. Set explicitly, well above the web's
# database limits (DB_STATEMENT_TIMEOUT 5 s, DB_LOCK_TIMEOUT 3 s, DB_CONNECT_TIMEOUT 3 s):
# a slow database ends a request with the "busy, try again" page long before this, so the
# kill (a closed connection, no page at all) is only for a truly stuck worker.
# See docs/reliability.md, "Waits, time-outs and overload".
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
accesslog = "-"
# Path without the query string: search terms (an ID or phone number typed into the
# admin's search box) must not reach the logs.
# Then, for the security log's needs: the time (%(t)s, local with zone), the client as the
# app reads it behind TRUSTED_PROXY_COUNT proxies ("client=") and the signed-in user's id
# ("user=", "-" when anonymous). core.middleware.SecurityHeadersMiddleware writes both into
# the WSGI environ (ebike.client, ebike.user_id), which gunicorn reads as %({key}e)s; no
# header carries them, so nothing reaches the client. %(h)s stays the peer (the proxy).
access_log_format = (
    "%(t)s %(h)s client=%({ebike.client}e)s user=%({ebike.user_id}e)s "
    '"%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
)
