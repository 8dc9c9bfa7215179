"""bench/release_storm.py can be pointed at other PostgreSQL and Redis servers."""

import pytest

from bench.storm.environment import bench_env
from bench.storm.options import parse_args


def test_defaults_are_the_shared_servers():
    env = bench_env(parse_args([]))
    assert env["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/ebike_bench"
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/9"


def test_private_servers_are_used_for_the_app():
    args = parse_args(
        [
            "--pg-server",
            "postgres://postgres@127.0.0.1:5441/",
            "--redis-server",
            "redis://127.0.0.1:6391",
        ]
    )
    env = bench_env(args)
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
def test_a_server_url_with_a_database_is_refused(option):
    with pytest.raises(SystemExit):
        parse_args(option)
