"""The command line of the release-storm benchmark and its validation."""

import argparse
import random
import re
from pathlib import Path
from urllib.parse import urlsplit

from .environment import PG_SERVER, REDIS_SERVER


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Release-storm benchmark (see docs/benchmarks.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--residents", type=int, default=5000, help="signed-in residents")
    p.add_argument("--concurrency", type=int, default=64, help="client connections")
    p.add_argument(
        "--capacity",
        type=int,
        default=None,
        help="places released for the storm day (default: what the demo offices release, "
        "160 for 5 offices); scales the offices' windows to give exactly this many",
    )
    p.add_argument("--offices", type=int, default=5, help="main-urban offices (extra: bench-NN)")
    p.add_argument("--phase-seconds", type=float, default=5.0, help="floor/availability phases")
    p.add_argument("--warmup-seconds", type=float, default=1.0, help="unmeasured warm-up")
    p.add_argument("--soldout-seconds", type=float, default=5.0, help="sold-out hammer phase")
    p.add_argument("--double-every", type=int, default=10, help="1 in N residents POSTs twice")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--workers", type=int, default=4, help="gunicorn --workers")
    p.add_argument("--threads", type=int, default=1, help="gunicorn --threads")
    p.add_argument("--worker-class", default="sync", help="gunicorn --worker-class")
    p.add_argument("--keep-alive", type=int, default=30, help="gunicorn --keep-alive (s)")
    p.add_argument(
        "--close",
        action="store_true",
        help="client opens a new connection per request (like a proxy without upstream "
        "keep-alive) instead of keeping --concurrency connections open",
    )
    p.add_argument("--db-name", default="ebike_bench", help="database (dropped and re-created)")
    p.add_argument("--redis-db", type=int, default=9, help="Redis database (flushed)")
    p.add_argument(
        "--pg-server",
        default=PG_SERVER,
        help="PostgreSQL server as a URL without a database (its user may create databases)",
    )
    p.add_argument(
        "--redis-server", default=REDIS_SERVER, help="Redis server as a URL without a db"
    )
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    p.add_argument("--keep", action="store_true", help="keep the database and Redis data")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the app (repeatable), e.g. DB_CONN_MAX_AGE=0",
    )
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The options, checked; exits with status 2 and a message on a bad one (argparse)."""
    p = build_parser()
    args = p.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.db_name) or "bench" not in args.db_name:
        p.error("--db-name must be a plain lower-case name containing 'bench' (it is dropped)")
    if args.residents < 1 or args.concurrency < 1 or args.offices < 1:
        p.error("--residents, --concurrency and --offices must be at least 1")
    if args.capacity is not None and args.capacity < 1:
        p.error("--capacity must be at least 1")
    if not 0 <= args.redis_db <= 15:
        p.error("--redis-db must be 0..15")
    args.pg_server, args.redis_server = args.pg_server.rstrip("/"), args.redis_server.rstrip("/")
    pg, rd = urlsplit(args.pg_server), urlsplit(args.redis_server)
    if pg.scheme not in {"postgres", "postgresql"} or not pg.hostname or pg.path:
        p.error("--pg-server must be postgres://user@host:port, without a database")
    if rd.scheme not in {"redis", "rediss"} or not rd.hostname or rd.path:
        p.error("--redis-server must be redis://host:port, without a database number")
    for item in args.env:
        if "=" not in item:
            p.error(f"--env expects NAME=VALUE, got {item!r}")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 30)
    return args
