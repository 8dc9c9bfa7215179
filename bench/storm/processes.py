"""gunicorn and the load generator as child processes, and what they use.

Both run in sessions of their own and get SIGTERM from the kernel if the benchmark process
dies outright (``PR_SET_PDEATHSIG``); ``stop_process`` stops them at the end, also after an
error, Ctrl-C or SIGTERM. Start both before any thread of this process exists (the
``preexec_fn`` runs between fork and exec). ``Sampler`` reads the workers' memory and CPU
time from ``/proc``.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .environment import HOST, ROOT, VENV_BIN

LOADGEN = ROOT / "bench" / "loadgen.py"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the benchmark process dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
            raise RuntimeError(f"gunicorn exited ({proc.returncode}):\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback http
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} in {timeout}s:\n{log_tail(log_path)}")


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


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of the server log, without Django's one warning line per 4xx answer."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join([t for t in text if " WARNING django.request " not in t][-lines:])


def log_line_counts(path: Path) -> dict[str, int]:
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
    """bench/loadgen.py, driven one JSON line per command over its stdin and stdout."""

    def __init__(self, args, residents_file: Path):
        cmd = [
            sys.executable,
            str(LOADGEN),
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
