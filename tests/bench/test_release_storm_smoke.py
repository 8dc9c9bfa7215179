"""Smoke test of bench/release_storm.py: a tiny storm, correctness keys only.

Runs the real script (its own database, Redis db and port; gunicorn with the production
settings and the load generator as subprocesses) and checks nothing is overbooked or lost and
that it leaves no process behind. Speed numbers are not asserted: see docs/benchmarks.md.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "release_storm.py"
RESIDENTS = 200
DB_NAME = "ebike_bench_smoke"
REDIS_DB = 13  # not 15 (the test suite's) nor 9 (the benchmark's default)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_mentioning(*needles: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if all(n in cmdline for n in needles):
                found.append(f"{entry}: {cmdline}")
    return found


@pytest.mark.postgres
@pytest.mark.redis
def test_release_storm_smoke(redis_url, tmp_path):
    port = free_port()
    out = tmp_path / "release-storm.json"
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--residents",
        str(RESIDENTS),
        "--concurrency",
        "16",
        "--phase-seconds",
        "1",
        "--warmup-seconds",
        "0.5",
        "--soldout-seconds",
        "1",
        "--db-name",
        DB_NAME,
        "--redis-db",
        str(REDIS_DB),
        "--port",
        str(port),
        "--json",
        str(out),
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the script stops gunicorn and the load generator
        output, _ = proc.communicate(timeout=30)
        pytest.fail(f"benchmark did not finish in time:\n{output}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    leftovers = processes_mentioning(f"127.0.0.1:{port}") + processes_mentioning(
        "loadgen.py", f"--port {port}"
    )
    assert not leftovers, f"processes left behind: {leftovers}"
    assert out.exists(), f"no JSON written (exit {proc.returncode}):\n{output}"
    result = json.loads(out.read_text())

    assert result["overbooked"] == 0, output
    assert result["duplicate_ids"] == 0, output
    assert result["errors_5xx"] == 0, output
    assert result["counter_mismatches"] == 0, output
    assert result["refusals_unrecorded"] == 0, output  # every 409 is in the statistics
    assert result["residents"] == RESIDENTS
    if result["residents"] > result["capacity"]:
        assert result["booked"] == result["capacity"], output
    assert proc.returncode == 0, output
