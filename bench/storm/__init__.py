"""The release-storm benchmark, run as ``.venv/bin/python bench/release_storm.py``.

Modules, in the order a run uses them:

- ``options``: the command line and its validation.
- ``environment``: the app's environment (production settings, throw-away secrets, the
  PostgreSQL and Redis servers and databases), where the repository and gunicorn are.
- ``servers``: the run's own PostgreSQL database and Redis database (re-created or flushed,
  dropped at the end); psycopg2 and redis only, no Django.
- ``data``: everything done through Django in the benchmark process: schema, offices,
  residents and their signed-in sessions, the release, the checks after the run. It imports
  the app's models at module level, so it is imported only after ``django.setup()``.
- ``django_internals``: what the benchmark borrows from Django beyond its documented API
  (session keys, the session layout of a signed-in user, CSRF secrets), in one place;
  ``tests/bench/test_django_internals.py`` fails when a Django upgrade breaks any of it.
- ``processes``: gunicorn and the load generator (``bench/loadgen.py``) as child processes
  that die with the benchmark, and the sampler of their memory and CPU time.
- ``report``: the keys, the table, the JSON, the correctness verdict.
- ``run``: the run itself, in order, and the exit status (0, 1, 2).
"""
