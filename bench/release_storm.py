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
counter_mismatches > 0, or booked != capacity although residents > capacity); 2 the
benchmark itself was invalid (unexpected statuses such as 403 or a redirect to the login
page, or the set-up failed).
"""

import argparse
import contextlib
import ctypes
import datetime
import io
import json
import os
import platform
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
# The shared servers by default; --pg-server/--redis-server point at others (e.g. private
# instances to inject faults in, docs/reliability.md), without a database name.
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_SERVER = "redis://127.0.0.1:6379"
# Variables of the app that must not leak in from the caller's shell (the bench sets its own).
APP_ENV_VARS = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_REDIS_URL",
    "CELERY_BROKER_URL",
    "SECRET_KEY",
    "ID_HASH_KEY",
    "ID_ENCRYPTION_KEYS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEBUG",
    "SMS_BACKEND",
    "SMS_GATEWAY_URL",
)
CORRECTNESS_KEYS = (
    "overbooked",
    "duplicate_ids",
    "errors_5xx",
    "counter_mismatches",
    "refusals_unrecorded",
)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- options and environment -----------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
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


def bench_env(args) -> dict[str, str]:
    """Production settings with throw-away secrets, plain HTTP on the loopback."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(60),
            "ID_HASH_KEY": secrets.token_urlsafe(48),
            "ID_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"{args.pg_server}/{args.db_name}",
            "REDIS_URL": f"{args.redis_server}/{args.redis_db}",
            "EMAIL_URL": "consolemail://",
            # No message leaves during the run (no worker drains the outbox); production
            # only needs to know where they would go.
            "SMS_GATEWAY_URL": "http://127.0.0.1:9/sms/send",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(item.split("=", 1) for item in args.env)
    return env


def git_state() -> dict:
    """The code measured: commit and uncommitted files (app code may be mid-change)."""

    def git(*argv: str) -> str:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", *argv],  # noqa: S607 - git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines()]
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "subject": git("log", "-1", "--format=%s"),
        "dirty_files": dirty[:30],
    }


def machine_info() -> dict:
    cpu_model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_mb = None
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_mb": mem_mb,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


# --- services ----------------------------------------------------------------------------


def _pg_admin(server: str = PG_SERVER):
    import psycopg2

    conn = psycopg2.connect(f"{server}/postgres")
    conn.autocommit = True
    return conn


def recreate_database(name: str, server: str = PG_SERVER) -> str:
    from psycopg2 import sql

    conn = _pg_admin(server)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            cur.execute("SELECT version()")
            return cur.fetchone()[0].split(" on ")[0]
    finally:
        conn.close()


def drop_database(name: str, server: str = PG_SERVER) -> None:
    from psycopg2 import sql

    conn = _pg_admin(server)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_queue_length(url: str, queue: str = "celery") -> int | None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(queue))
    except redis.RedisError:
        return None
    finally:
        client.close()


# --- preparation (Django, in this process, same settings and secrets as gunicorn) ----------


def prepare_schema() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # Production settings use WhiteNoise's manifest storage: pages fail without it.
    call_command("collectstatic", verbosity=0, interactive=False)


def _days_all_open(offices, day, closed) -> bool:
    return all(o.opens_on_weekday(day.isoweekday()) and (o.pk, day) not in closed for o in offices)


def prepare_offices(n_offices: int, capacity: int | None) -> datetime.date:
    """Demo offices (+ extra ones), only main-urban ones active; return the storm day."""
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import Sum
    from django.utils import timezone

    from appointments.models import DayRelease, Slot
    from appointments.services import split_capacity, week_bounds
    from offices import demo
    from offices.models import ClosedDay, Office, TimeWindow

    call_command("load_demo", days=0, stdout=io.StringIO())
    with transaction.atomic():
        # load_demo released today; at a real release earlier days are long sold out, so
        # the storm day is the only one with places (and the only one offered on a 409).
        Slot.objects.all().delete()
        DayRelease.objects.all().delete()
        Office.objects.filter(is_main_urban=False).update(is_active=False)
        main = list(Office.objects.filter(is_main_urban=True, is_active=True).order_by("pk"))
        for k in range(len(main), n_offices):
            office = Office.objects.create(
                code=f"bench-{k + 1:02d}",
                name=f"压测网点 {k + 1}（虚构）",
                district="压测区",
                address=f"压测路 {k + 1} 号（虚构地址）",
                **demo.MAIN_URBAN_DEFAULTS,
            )
            TimeWindow.objects.bulk_create(
                TimeWindow(office=office, start=start, end=end, capacity=cap)
                for start, end, cap in demo.DEMO_WINDOWS
            )
            main.append(office)
        for office in main[n_offices:]:
            office.is_active = False
            office.save(update_fields=["is_active"])
        active = main[:n_offices]

        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        closed = set(ClosedDay.objects.values_list("office_id", "date"))
        day = next(
            (
                tomorrow + datetime.timedelta(days=i)
                for i in range(7)
                if _days_all_open(active, tomorrow + datetime.timedelta(days=i), closed)
            ),
            tomorrow,
        )
        if capacity is not None:
            base, extra = divmod(capacity, len(active))
            monday, sunday = week_bounds(day)
            for i, office in enumerate(active):
                share = base + (1 if i < extra else 0)
                windows = list(office.windows.order_by("start"))
                # Same proportions as the windows have now (split_capacity never gives a
                # window more than its weight, so scale the weights up first).
                weights = [w.capacity * max(share, 1) for w in windows]
                parts = split_capacity(share, weights) if share else []
                for w, part in zip(windows, parts or [0] * len(windows), strict=True):
                    w.capacity = max(1, part)
                    w.save(update_fields=["capacity"])
                used = (
                    Slot.objects.filter(office=office, date__range=(monday, sunday))
                    .exclude(date=day)
                    .aggregate(total=Sum("capacity"))["total"]
                    or 0
                )
                Office.objects.filter(pk=office.pk).update(
                    daily_capacity=share, weekly_quota=max(office.weekly_quota, used + share)
                )
    return day


def prepare_residents(n: int, path: Path, batch: int = 2000) -> dict:
    """Users, residents, e-bikes, a signed-in session and a CSRF token each; fast.

    Rows are bulk-created with the same hashing and encryption the services use; sessions
    are written as the login view would leave them (user id, backend, auth hash).
    """
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS
    from django.db import transaction
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret
    from django.utils.crypto import get_random_string

    from registration import crypto
    from registration.idnumber import check_character, mask_id_number, parse_id_number
    from registration.models import EBike, Resident, User

    engine = import_module(settings.SESSION_ENGINE)
    store_cls = engine.SessionStore
    db_sessions = hasattr(store_cls, "get_model_class")  # db and cached_db: bulk insert
    backend = "django.contrib.auth.backends.ModelBackend"
    born0 = datetime.date(1960, 1, 1)
    out = []
    t0 = time.perf_counter()
    for lo in range(0, n, batch):
        idx = range(lo, min(n, lo + batch))
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(email=f"bench{i:07d}@bench.example.org", password=make_password(None))
                for i in idx
            )
            residents = []
            for i, user in zip(idx, users, strict=True):
                born = born0 + datetime.timedelta(days=i // 999)
                first17 = f"210802{born:%Y%m%d}{i % 999 + 1:03d}"
                parsed = parse_id_number(first17 + check_character(first17))
                residents.append(
                    Resident(
                        user=user,
                        real_name=f"压测居民{i}",
                        id_hash=crypto.id_number_hash(parsed.number),
                        id_encrypted=crypto.encrypt(parsed.number),
                        id_masked=mask_id_number(parsed.number),
                        birth_date=parsed.birth_date,
                    )
                )
            residents = Resident.objects.bulk_create(residents)
            ebikes = EBike.objects.bulk_create(
                EBike(resident=r, frame_number=f"BENCH{i:09d}", brand="压测牌", model="B-1")
                for i, r in zip(idx, residents, strict=True)
            )
            sessions = []
            for user, ebike in zip(users, ebikes, strict=True):
                data = {
                    "_auth_user_id": str(user.pk),
                    "_auth_user_backend": backend,
                    "_auth_user_hash": user.get_session_auth_hash(),
                }
                csrf_secret = _get_new_csrf_string()
                if settings.CSRF_USE_SESSIONS:
                    data["_csrftoken"] = csrf_secret
                if db_sessions:
                    key = get_random_string(32, VALID_KEY_CHARS)
                    sessions.append(store_cls(session_key=key).create_model_instance(data))
                else:
                    store = store_cls()
                    store.update(data)
                    store.save()
                    key = store.session_key
                cookie = f"{settings.SESSION_COOKIE_NAME}={key}"
                if not settings.CSRF_USE_SESSIONS:
                    cookie += f"; {settings.CSRF_COOKIE_NAME}={csrf_secret}"
                out.append([cookie, _mask_cipher_secret(csrf_secret), ebike.pk])
            if db_sessions:
                store_cls.get_model_class().objects.bulk_create(sessions)
    path.write_text(json.dumps({"residents": out}), encoding="utf-8")
    return {"session_engine": settings.SESSION_ENGINE, "seconds": time.perf_counter() - t0}


def release_day(day: datetime.date) -> tuple[list[int], int, float, float]:
    """Release the storm day now; return slot ids, places, duration and end (wall clock)."""
    from appointments.models import Slot
    from appointments.services import slots_release

    t0 = time.perf_counter()
    slots_release(day=day)
    seconds = time.perf_counter() - t0
    released_wall = time.time()
    rows = list(
        Slot.objects.filter(date=day, office__is_active=True, capacity__gt=0).values_list(
            "id", "capacity"
        )
    )
    return [pk for pk, _ in rows], sum(c for _, c in rows), seconds, released_wall


def check_database(day: datetime.date, storm_started_wall: float | None) -> dict:
    """Invariants after the run, straight from the database."""
    from django.db.models import Count, F, Max, Q

    from appointments.models import Booking, Notification, Slot

    live = ~Q(bookings__status=Booking.Status.CANCELLED)
    slots = Slot.objects.annotate(n=Count("bookings", filter=live))
    overbooked = slots.filter(Q(booked__gt=F("capacity")) | Q(n__gt=F("capacity"))).count()
    mismatches = list(slots.exclude(booked=F("n")).values("id", "booked", "n")[:20])
    mismatch_count = slots.exclude(booked=F("n")).count()
    duplicate_ids = (
        Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES)
        .values("resident__id_hash")
        .annotate(c=Count("id"))
        .filter(c__gt=1)
        .count()
    )
    day_bookings = Booking.objects.filter(slot__date=day).exclude(status=Booking.Status.CANCELLED)
    booked = day_bookings.count()
    last = day_bookings.aggregate(last=Max("created_at"))["last"]
    return {
        "booked": booked,
        "overbooked": overbooked,
        "duplicate_ids": duplicate_ids,
        "counter_mismatches": mismatch_count,
        "counter_mismatch_samples": [
            {"slot": m["id"], "counter": m["booked"], "bookings": m["n"]} for m in mismatches
        ],
        "bookings_other_days": Booking.objects.exclude(slot__date=day).count(),
        "notifications": Notification.objects.count(),
        "last_booking_wall": last.timestamp() if last else None,
        "sellout_candidate_s": (
            round(last.timestamp() - storm_started_wall, 3) if last and storm_started_wall else None
        ),
    }


def refusals_recorded(app_env: list[str]) -> int | None:
    """Refused attempts the app recorded for the statistics, once its workers have flushed
    them (a timer writes each worker's counts a few seconds after its last refusal)."""
    from django.conf import settings
    from django.db.models import Sum

    from appointments.models import RefusedAttempts

    seconds = float(settings.BOOKING_ATTEMPTS_FLUSH_SECONDS)
    for item in app_env:
        name, _, value = item.partition("=")
        if name == "BOOKING_ATTEMPTS_FLUSH_SECONDS":
            seconds = float(value)
    if seconds > 10:
        return None  # counting deliberately held back in this run
    time.sleep(seconds + 1)
    return RefusedAttempts.objects.aggregate(n=Sum("total"))["n"] or 0


def close_django_connections() -> None:
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


# --- processes ------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark process dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_gunicorn(args, env: dict, log_path: Path) -> subprocess.Popen:
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"{HOST}:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        args.worker_class,
        "--keep-alive",
        str(args.keep_alive),
        "--timeout",
        "120",
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
    ]
    # gunicorn's and Django's logs (tracebacks of any 500) both go to stderr: keep them.
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # called before any thread of ours exists
        )


def wait_healthy(proc: subprocess.Popen, port: int, log_path: Path, timeout: float = 60) -> None:
    url = f"http://{HOST}:{port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback http
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} in {timeout}s:\n{_tail(log_path)}")


def stop_process(proc: subprocess.Popen | None, grace: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the process and its workers
        proc.wait(5)


def _tail(path: Path, lines: int = 30) -> str:
    """The end of the server log, without Django's one warning line per 4xx answer."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join([t for t in text if " WARNING django.request " not in t][-lines:])


def _log_lines(path: Path) -> dict[str, int]:
    counts = {"total": 0, "django_request_warnings": 0}
    with contextlib.suppress(OSError), open(path, errors="replace") as fh:
        for line in fh:
            counts["total"] += 1
            counts["django_request_warnings"] += " WARNING django.request " in line
    return counts


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        pass
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    stat = fh.read()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry))
    return kids


def _rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def _cpu_s(pid: int) -> float | None:
    with contextlib.suppress(OSError, IndexError, ValueError):
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


class Sampler(threading.Thread):
    """Every 0.2 s: RSS and CPU time of gunicorn's workers (the master's children)."""

    def __init__(self, master_pid: int, extra: dict[str, int]):
        super().__init__(daemon=True)
        self.master_pid = master_pid
        self.extra = extra  # name -> pid, CPU time only (load generator)
        self.stop_event = threading.Event()
        self.rss_max: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.extra_cpu: dict[str, float] = {}

    def sample(self) -> None:
        for pid in _children(self.master_pid):
            rss = _rss_mb(pid)
            if rss is not None:
                self.rss_max[pid] = max(rss, self.rss_max.get(pid, 0.0))
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.cpu[pid] = cpu
        for name, pid in self.extra.items():
            cpu = _cpu_s(pid)
            if cpu is not None:
                self.extra_cpu[name] = cpu

    def run(self) -> None:
        while not self.stop_event.wait(0.2):
            self.sample()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2)
        self.sample()


class LoadGenerator:
    def __init__(self, args, residents_file: Path):
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "loadgen.py"),
            "--port",
            str(args.port),
            "--concurrency",
            str(args.concurrency),
            "--residents-file",
            str(residents_file),
            "--seed",
            str(args.seed),
        ]
        if args.close:
            cmd.append("--close")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # called before any thread of ours exists
        )
        hello = self._read()
        if not hello.get("ready"):
            raise RuntimeError(f"load generator did not start: {hello}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator exited ({self.proc.poll()})")
        return json.loads(line)

    def run(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, grace=5)


# --- report ------------------------------------------------------------------------------------


def unexpected(statuses: dict[str, int], allowed: set[str]) -> int:
    return sum(n for s, n in statuses.items() if s not in allowed and not s.startswith("5"))


def build_result(args, ctx: dict) -> dict:
    floor, avail = ctx["floor"], ctx["availability"]
    storm, soldout, db = ctx["storm"], ctx["soldout"], ctx["db"]
    phases = {"warmup": ctx["warmup"], "floor": floor, "availability": avail}
    phases.update({"storm": storm, "soldout": soldout})
    errors_5xx = sum(p.get("errors_5xx", 0) for p in phases.values())
    unexpected_n = (
        unexpected(floor["statuses"], {"200"})
        + unexpected(avail["statuses"], {"200"})
        + unexpected(storm["statuses"], {"302", "409"})
        + len(storm.get("other_302_samples", []))
        # A 302 in the hammer is a place the storm left (a resident retries only once,
        # and suggestions may lag a second behind): a booking, not an invalid run.
        + unexpected(soldout.get("statuses", {}), {"409", "302"})
    )
    sold_out = db["booked"] >= ctx["capacity"]
    floor_rps = floor["rps"] or None
    refused = storm["statuses"].get("409", 0) + soldout.get("statuses", {}).get("409", 0)
    recorded = db["refusals_recorded"]
    rss = ctx["rss_max"]

    def ratio(x):
        return round(x / floor_rps, 3) if x and floor_rps else None

    return {
        "residents": args.residents,
        "concurrency": args.concurrency,
        "capacity": ctx["capacity"],
        "offices": args.offices,
        "release_day": ctx["day"].isoformat(),
        "attempts": storm["attempts"],
        "booked": db["booked"],
        "overbooked": db["overbooked"],
        "duplicate_ids": db["duplicate_ids"],
        "errors_5xx": errors_5xx,
        "counter_mismatches": db["counter_mismatches"],
        # Every 409 answered (sold out or already booked) must be counted for the statistics.
        "refusals_unrecorded": None if recorded is None else refused - recorded,
        "attempts_per_s": storm["attempts_per_s"],
        "p50_ms": storm["p50_ms"],
        "p95_ms": storm["p95_ms"],
        "p99_ms": storm["p99_ms"],
        "sellout_s": db["sellout_candidate_s"] if sold_out else None,
        "soldout_rps": soldout.get("rps"),
        "floor_rps": floor["rps"],
        "availability_rps": avail["rps"],
        "ratio_booking_to_floor": ratio(storm["attempts_per_s"]),
        "ratio_soldout_to_floor": ratio(soldout.get("rps")),
        "worker_rss_mb_max": round(max(rss.values()), 1) if rss else None,
        "storm_duration_s": storm["duration_s"],
        "unexpected_statuses": unexpected_n,
        "workers": args.workers,
        "threads": args.threads,
        "worker_class": args.worker_class,
        "settings": {
            "workers": args.workers,
            "threads": args.threads,
            "worker_class": args.worker_class,
            "keep_alive_s": args.keep_alive,
            "client_connections": "new per request" if args.close else "keep-alive",
            "django_settings": "config.settings.production",
            "session_engine": ctx["session_engine"],
            "extra_env": args.env,
            "phase_seconds": args.phase_seconds,
            "soldout_seconds": args.soldout_seconds,
            "double_every": args.double_every,
            "seed": args.seed,
        },
        "machine": ctx["machine"],
        "db_checks": db,
        "release_s": round(ctx["release_s"], 3),
        "release_instant": _iso(storm["started_wall"]),
        "release_to_storm_ms": round((storm["started_wall"] - ctx["released_wall"]) * 1000, 1),
        "git": ctx["git"],
        "notifications_queued_in_redis": ctx["queued"],
        "server_log_lines": ctx["server_log_lines"],
        "worker_rss_mb": sorted(round(v, 1) for v in rss.values()),
        "worker_cpu_s": sorted(round(v, 2) for v in ctx["worker_cpu"].values()),
        "loadgen_cpu_s": ctx["loadgen_cpu"],
        "timings_s": ctx["timings"],
        "phases": phases,
    }


def _iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(wall, datetime.UTC).isoformat(timespec="milliseconds")


def failures(result: dict) -> list[str]:
    bad = [f"{k}={result[k]}" for k in CORRECTNESS_KEYS if result[k]]
    if result["residents"] > result["capacity"] and result["booked"] != result["capacity"]:
        bad.append(f"booked={result['booked']} != capacity={result['capacity']}")
    return bad


TABLE_KEYS = [
    "residents",
    "concurrency",
    "capacity",
    "offices",
    "release_day",
    "attempts",
    "booked",
    "overbooked",
    "duplicate_ids",
    "errors_5xx",
    "counter_mismatches",
    "refusals_unrecorded",
    "unexpected_statuses",
    "attempts_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "sellout_s",
    "storm_duration_s",
    "soldout_rps",
    "floor_rps",
    "availability_rps",
    "ratio_booking_to_floor",
    "ratio_soldout_to_floor",
    "worker_rss_mb_max",
    "workers",
    "threads",
    "worker_class",
]


def print_table(result: dict) -> None:
    width = max(len(k) for k in TABLE_KEYS)
    print("\nrelease storm")
    for key in TABLE_KEYS:
        print(f"  {key:<{width}}  {result[key]}")
    m = result["machine"]
    print(f"  {'machine':<{width}}  {m['nproc']} x {m['cpu_model']}, {m['date']}")
    g = result["git"]
    dirty = f" + {len(g['dirty_files'])} uncommitted files" if g["dirty_files"] else ""
    print(f"  {'code':<{width}}  {g['commit']} {g['subject'][:60]}{dirty}")
    print(f"  {'run time':<{width}}  {result['timings_s']['total']} s")


# --- main --------------------------------------------------------------------------------------


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


_T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    t_start = time.perf_counter()
    env = bench_env(args)
    os.environ.clear()
    os.environ.update(env)
    redis_url = env["REDIS_URL"]
    machine = machine_info()
    timings: dict[str, float] = {}
    gunicorn = loadgen = sampler = None
    db_created = False
    workdir = Path(tempfile.mkdtemp(prefix="release-storm-"))
    gunicorn_log = workdir / "gunicorn.log"
    try:
        log(
            f"database {args.db_name} on {args.pg_server}, Redis db {args.redis_db} on "
            f"{args.redis_server}, seed {args.seed}"
        )
        flush_redis(redis_url)
        machine["postgres"] = recreate_database(args.db_name, args.pg_server)
        db_created = True
        import django

        django.setup()
        machine["django"] = django.get_version()
        t = time.perf_counter()
        prepare_schema()
        day = prepare_offices(args.offices, args.capacity)
        timings["schema_offices"] = round(time.perf_counter() - t, 2)
        log(f"preparing {args.residents} residents")
        t = time.perf_counter()
        residents_file = workdir / "residents.json"
        prep = prepare_residents(args.residents, residents_file)
        timings["residents"] = round(time.perf_counter() - t, 2)
        close_django_connections()

        log(f"starting gunicorn {args.worker_class} {args.workers}x{args.threads} :{args.port}")
        loadgen = LoadGenerator(args, residents_file)  # both started before any thread exists
        gunicorn = start_gunicorn(args, env, gunicorn_log)
        wait_healthy(gunicorn, args.port, gunicorn_log)
        sampler = Sampler(gunicorn.pid, {"loadgen": loadgen.proc.pid})
        sampler.start()

        half = args.warmup_seconds / 2
        warm_ping = loadgen.run(cmd="get", path="/me/ping/", seconds=half, cookies=True)
        warm_avail = loadgen.run(cmd="get", path="/availability/", seconds=half, cookies=True)
        warmup = {
            "errors_5xx": warm_ping["errors_5xx"] + warm_avail["errors_5xx"],
            "ping": warm_ping,
            "availability": warm_avail,
        }
        log("floor: GET /me/ping/")
        floor = loadgen.run(cmd="get", path="/me/ping/", seconds=args.phase_seconds, cookies=True)
        log("availability: GET /availability/")
        avail = loadgen.run(
            cmd="get", path="/availability/", seconds=args.phase_seconds, cookies=True
        )
        slot_ids, capacity, release_s, released_wall = release_day(day)
        close_django_connections()
        log(f"released {day}: {capacity} places in {len(slot_ids)} windows; storm")
        if args.capacity is not None and capacity != args.capacity:
            raise RuntimeError(f"released {capacity} places, asked for {args.capacity}")
        if not slot_ids:
            raise RuntimeError(f"nothing was released for {day}")
        t = time.perf_counter()
        storm = loadgen.run(cmd="storm", slots=slot_ids, double_every=args.double_every)
        timings["storm"] = round(time.perf_counter() - t, 2)
        log(f"sold-out hammer for {args.soldout_seconds}s")
        soldout = loadgen.run(cmd="soldout", slots=slot_ids, seconds=args.soldout_seconds)
        sampler.stop()
        loadgen.stop()
        db = check_database(day, storm["started_wall"])
        db["refusals_recorded"] = refusals_recorded(args.env)
        close_django_connections()
        ctx = {
            "day": day,
            "capacity": capacity,
            "warmup": warmup,
            "floor": floor,
            "availability": avail,
            "storm": storm,
            "soldout": soldout,
            "db": db,
            "release_s": release_s,
            "released_wall": released_wall,
            "git": git_state(),
            "queued": redis_queue_length(redis_url),
            "server_log_lines": _log_lines(gunicorn_log),
            "rss_max": sampler.rss_max,
            "worker_cpu": sampler.cpu,
            "loadgen_cpu": sampler.extra_cpu.get("loadgen"),
            "machine": machine,
            "session_engine": prep["session_engine"],
            "timings": timings,
        }
    except BaseException:
        if gunicorn is not None:
            log(f"gunicorn log tail:\n{_tail(gunicorn_log)}")
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        if loadgen is not None:
            loadgen.stop()
        stop_process(gunicorn)
        close_django_connections()
        if not args.keep:
            with contextlib.suppress(Exception):
                flush_redis(redis_url)
            if db_created:
                with contextlib.suppress(Exception):
                    drop_database(args.db_name, args.pg_server)
        for p in workdir.iterdir():
            p.unlink()
        workdir.rmdir()

    timings["total"] = round(time.perf_counter() - t_start, 1)
    result = build_result(args, ctx)
    print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        log(f"wrote {args.json}")
    bad = failures(result)
    if bad:
        log("CORRECTNESS FAILURE: " + ", ".join(bad))
        return 1
    if result["unexpected_statuses"]:
        log(f"INVALID RUN: {result['unexpected_statuses']} unexpected statuses (see phases)")
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # set-up failures: say what, exit 2
        traceback.print_exc()
        log(f"benchmark failed: {exc.__class__.__name__}: {exc}")
        sys.exit(2)
