"""One benchmark run, in order, and its exit status.

Set-up (Redis flushed, database re-created, Django set up in this process with the app's
environment, schema, offices, residents), gunicorn and the load generator started, the
phases (warm-up, floor, availability, release, storm, sold-out hammer), the database
checked, everything stopped and removed, the report. Exit status: 0 all good, 1 a
correctness key is bad, 2 the run is invalid or the set-up failed.
"""

import contextlib
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import django

from . import processes, report, servers
from .environment import bench_env
from .options import parse_args


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
    machine = report.machine_info()
    timings: dict[str, float] = {}
    gunicorn = loadgen = sampler = data = None
    db_created = False
    workdir = Path(tempfile.mkdtemp(prefix="release-storm-"))
    gunicorn_log = workdir / "gunicorn.log"
    try:
        log(
            f"database {args.db_name} on {args.pg_server}, Redis db {args.redis_db} on "
            f"{args.redis_server}, seed {args.seed}"
        )
        servers.flush_redis(redis_url)
        machine["postgres"] = servers.recreate_database(args.db_name, args.pg_server)
        db_created = True
        django.setup()
        # Imported here, not at the top: it imports the app's models, which needs the
        # environment above in os.environ and django.setup() done.
        from . import data

        machine["django"] = django.get_version()
        t = time.perf_counter()
        data.prepare_schema()
        day = data.prepare_offices(args.offices, args.capacity)
        timings["schema_offices"] = round(time.perf_counter() - t, 2)
        log(f"preparing {args.residents} residents")
        t = time.perf_counter()
        residents_file = workdir / "residents.json"
        prep = data.prepare_residents(args.residents, residents_file)
        timings["residents"] = round(time.perf_counter() - t, 2)
        data.close_connections()

        log(f"starting gunicorn {args.worker_class} {args.workers}x{args.threads} :{args.port}")
        # Both children are started before any thread of this process exists.
        loadgen = processes.LoadGenerator(args, residents_file)
        gunicorn = processes.start_gunicorn(args, env, gunicorn_log)
        processes.wait_healthy(gunicorn, args.port, gunicorn_log)
        sampler = processes.Sampler(gunicorn.pid, {"loadgen": loadgen.proc.pid})
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
        slot_ids, capacity, release_s, released_wall = data.release_day(day)
        data.close_connections()
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
        db = data.check_database(day, storm["started_wall"])
        db["refusals_recorded"] = data.refusals_recorded(args.env)
        data.close_connections()
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
            "git": report.git_state(),
            "queued": servers.redis_queue_length(redis_url),
            "server_log_lines": processes.log_line_counts(gunicorn_log),
            "rss_max": sampler.rss_max,
            "worker_cpu": sampler.cpu,
            "loadgen_cpu": sampler.extra_cpu.get("loadgen"),
            "machine": machine,
            "session_engine": prep["session_engine"],
            "timings": timings,
        }
    except BaseException:
        if gunicorn is not None:
            log(f"gunicorn log tail:\n{processes.log_tail(gunicorn_log)}")
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        if loadgen is not None:
            loadgen.stop()
        processes.stop_process(gunicorn)
        if data is not None:
            data.close_connections()
        if not args.keep:
            with contextlib.suppress(Exception):
                servers.flush_redis(redis_url)
            if db_created:
                with contextlib.suppress(Exception):
                    servers.drop_database(args.db_name, args.pg_server)
        for p in workdir.iterdir():
            p.unlink()
        workdir.rmdir()

    timings["total"] = round(time.perf_counter() - t_start, 1)
    result = report.build_result(args, ctx)
    report.print_table(result)
    if args.json:
        report.write_json(result, args.json)
        log(f"wrote {args.json}")
    bad = report.failures(result)
    if bad:
        log("CORRECTNESS FAILURE: " + ", ".join(bad))
        return 1
    if result["unexpected_statuses"]:
        log(f"INVALID RUN: {result['unexpected_statuses']} unexpected statuses (see phases)")
        return 2
    return 0


def cli(argv=None) -> int:
    """``main`` with the exit statuses of the command: 130 on Ctrl-C, 2 on a set-up error."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # set-up failures: say what, exit 2
        traceback.print_exc()
        log(f"benchmark failed: {exc.__class__.__name__}: {exc}")
        return 2
