"""gunicorn settings for the web container (`gunicorn -c config/gunicorn.py …`)."""

import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))  # sync workers, 2 per core
accesslog = "-"
# Path without the query string: search terms (an ID or phone number typed into the
# admin's search box) must not reach the logs.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss'
