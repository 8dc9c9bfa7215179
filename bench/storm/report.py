"""The results: every key, the correctness verdict, the table and the JSON.

docs/benchmarks.md says what each key means; keep the two in step.
"""

import contextlib
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

from .environment import DJANGO_SETTINGS, ROOT

# Must all be 0 (or None where the run did not count them); else exit status 1.
CORRECTNESS_KEYS = (
    "overbooked",
    "duplicate_ids",
    "errors_5xx",
    "counter_mismatches",
    "refusals_unrecorded",
)
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
            "django_settings": DJANGO_SETTINGS,
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
    """The correctness keys that are bad, as ``key=value`` (empty: the run passed)."""
    bad = [f"{k}={result[k]}" for k in CORRECTNESS_KEYS if result[k]]
    if result["residents"] > result["capacity"] and result["booked"] != result["capacity"]:
        bad.append(f"booked={result['booked']} != capacity={result['capacity']}")
    return bad


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


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
