#!/usr/bin/env bash
# Make sure what the test suite talks to is there: PostgreSQL and Redis on 127.0.0.1
# (started if down) and Debian's Chromium for the browser tests (installed if missing;
# `playwright install` cannot download browsers here).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break
    sleep 1
done
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 ping

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
# Chinese fonts make the screenshots in test-artifacts/ readable; the tests pass without them.
if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk) \
        || echo "warning: fonts-noto-cjk not installed; screenshots may show boxes for Chinese" >&2
fi
