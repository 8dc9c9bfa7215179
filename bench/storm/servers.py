"""The run's own PostgreSQL database and Redis database: psycopg2 and redis only, no Django.

The database is dropped and re-created at the start and dropped at the end; the Redis
database is flushed at both (unless --keep). These run before Django is set up and in the
clean-up after it may have failed.
"""

import psycopg2
import redis
from psycopg2 import sql

from .environment import PG_SERVER


def _pg_admin(server: str = PG_SERVER):
    conn = psycopg2.connect(f"{server}/postgres")
    conn.autocommit = True
    return conn


def recreate_database(name: str, server: str = PG_SERVER) -> str:
    """Drop and create the database ``name``; return the server's version string."""
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
    conn = _pg_admin(server)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_queue_length(url: str, queue: str = "celery") -> int | None:
    """Celery messages waiting in Redis (None if Redis does not answer)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.llen(queue))
    except redis.RedisError:
        return None
    finally:
        client.close()
