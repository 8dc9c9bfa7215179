"""bench/release_storm.py can be pointed at other PostgreSQL and Redis servers."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "release_storm.py"


@pytest.fixture(scope="module")
def storm():
    spec = importlib.util.spec_from_file_location("release_storm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_shared_servers(storm):
    env = storm.bench_env(storm.parse_args([]))
    assert env["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/ebike_bench"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/9"


def test_private_servers_are_used_for_the_app(storm):
    args = storm.parse_args(
        [
            "--pg-server",
            "postgres://postgres@127.0.0.1:5441/",
            "--redis-server",
            "redis://127.0.0.1:6391",
        ]
    )
    env = storm.bench_env(args)
    assert env["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5441/ebike_bench"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6391/9"
    assert args.pg_server == "postgres://postgres@127.0.0.1:5441"  # what _pg_admin connects to


@pytest.mark.parametrize(
    "option",
    [
        ["--pg-server", "postgres://postgres@127.0.0.1:5441/ebike"],
        ["--pg-server", "127.0.0.1:5441"],
        ["--redis-server", "redis://127.0.0.1:6391/0"],
    ],
)
def test_a_server_url_with_a_database_is_refused(storm, option):
    with pytest.raises(SystemExit):
        storm.parse_args(option)
