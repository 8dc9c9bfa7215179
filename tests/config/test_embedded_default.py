"""The embedded default: SQLite and a filesystem Celery broker, no PostgreSQL or Redis.

Runs the real commands in subprocesses with no DATABASE_URL or REDIS_URL, as
`make run` does, against a throwaway SQLite file and broker folder.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import wait_for_worker, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        CELERY_FS_BROKER_DIR=str(tmp_path / "broker"),
    )
    return env


def manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_home_page_served_by_the_embedded_default_lists_the_five_offices(embedded_env):
    manage(embedded_env, "migrate", "--noinput")
    out = manage(embedded_env, "load_demo").stdout
    assert "resident@demo.example.org" in out
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=embedded_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pages = []

        def answers():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    pages.append(resp.read().decode())
            except OSError:
                return False
            return True

        assert wait_until(answers, process=server), "runserver exited or never answered"
        body = pages[-1]
        for name in [
            "站前演示网点",
            "西市演示网点",
            "老边演示网点",
            "金牛演示网点",
            "渤海演示网点",
        ]:
            assert name in body
        assert "上牌免费" in body or "登记免费" in body
        # Readiness checks what this setup has: SQLite, and no Redis to check.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["checks"] == {
                "database": "ok",
                "redis": "not configured",
            }
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_celery_runs_without_redis_through_the_filesystem_broker(embedded_env, tmp_path):
    manage(embedded_env, "migrate", "--noinput")
    manage(embedded_env, "load_demo", "--days", "0")
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--pool",
            "solo",
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=embedded_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    day = "2030-01-07"  # a Monday: every demo office opens
    try:
        wait_for_worker(worker, log_path)
        manage(
            embedded_env,
            "shell",
            "-c",
            f"from appointments.tasks import release_slots; release_slots.delay('{day}')",
        )
        db = sqlite3.connect(tmp_path / "demo.sqlite3", timeout=10)

        def released():
            query = "SELECT COUNT(*) FROM appointments_dayrelease WHERE date = ?"
            return db.execute(query, [day]).fetchone()[0]

        assert wait_until(released, process=worker), log_path.read_text()
        assert released() == 6  # five main-urban offices and the vehicle administration office
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        print(log_path.read_text())
