"""Release-storm benchmark: thousands of signed-in residents book the moment a day opens.

Runs the real stack on this machine only (127.0.0.1): a fresh PostgreSQL database, a Redis
database (cache and Celery broker; both servers may be private instances, see --pg-server
and --redis-server), gunicorn with the production settings, and a separate
load-generator process (bench/loadgen.py: asyncio, keep-alive HTTP/1.1). See
docs/benchmarks.md for what every number means. From the repository root:

    .venv/bin/python bench/release_storm.py --json var/bench/release-storm.json

Phases, in this order, with the same connections and signed-in residents:
    warm-up, floor (GET /me/ping/), availability (GET /availability/),
    release of one day, storm (every resident books once), sold-out hammer.

Exit status: 0 all good; 1 a correctness key is bad (overbooked, duplicate_ids, errors_5xx,
counter_mismatches, refusals_unrecorded > 0, or booked != capacity although residents >
capacity); 2 the benchmark itself was invalid (unexpected statuses such as 403 or a
redirect to the login page, or the set-up failed).

This file is the command; the code is the package bench/storm/ (its docstring says which
module does what).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.storm.run import cli  # noqa: E402 - once the repository root is importable

if __name__ == "__main__":
    sys.exit(cli())
