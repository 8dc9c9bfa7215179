"""Load generator for bench/release_storm.py: a small asyncio HTTP/1.1 keep-alive client.

Standard library only, no Django import, so it starts fast and stays cheap on CPU. It is
driven by the orchestrator over stdin/stdout, one JSON object per line:

    -> {"cmd": "get", "path": "/me/ping/", "seconds": 5, "cookies": true}
    <- {"requests": ..., "duration": ..., "rps": ..., "statuses": {...}, ...}
    -> {"cmd": "storm", "slots": [1, 2, ...], "double_every": 10}
    -> {"cmd": "soldout", "slots": [...], "seconds": 5}
    -> {"cmd": "quit"}

Every phase uses the same CONCURRENCY connections to 127.0.0.1 (opened afresh at the start
of each phase, so idle time between phases cannot close them under a request). Requests are
built by hand and responses parsed by status line, headers and Content-Length (or chunked).
"""

import argparse
import asyncio
import contextlib
import json
import random
import re
import sys
import time

REQUEST_TIMEOUT = 60.0
# The POST field Django's CsrfViewMiddleware reads the token from (storm/django_internals.py
# names it too; tests/bench/test_django_internals.py checks the two agree).
CSRF_FORM_FIELD = "csrfmiddlewaretoken"
# Links to other windows on the 409 page ("These windows still have places: ...").
ALTERNATIVE_LINK = re.compile(rb'href="/book/(\d+)/"')


class ConnectionFailed(Exception):
    """No usable response: refused, reset, timed out or cut short."""


class Conn:
    """One keep-alive connection; reopens itself when the server closed it."""

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = False  # a response was read on this socket
        self.reconnects = 0

    async def open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = False

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes, bytes]:
        """Send one request; return (status, header block, body)."""
        for attempt in (0, 1):
            if self.writer is None:
                try:
                    await self.open()
                except OSError as exc:
                    raise ConnectionFailed(f"connect: {exc!r}") from None
            reused = self.used
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    self.writer.write(raw)
                    return await self._read_response()
            except asyncio.IncompleteReadError as exc:
                await self.close()
                # A keep-alive connection the server closed before reading our request:
                # nothing was processed, so sending it again is safe (browsers do the same).
                if reused and not exc.partial and attempt == 0:
                    self.reconnects += 1
                    continue
                raise ConnectionFailed("connection closed mid-response") from None
            except (OSError, TimeoutError, asyncio.LimitOverrunError, ValueError) as exc:
                await self.close()
                if reused and attempt == 0 and isinstance(exc, ConnectionResetError):
                    self.reconnects += 1
                    continue
                raise ConnectionFailed(repr(exc)) from None
        raise ConnectionFailed("retry failed")

    async def _read_response(self) -> tuple[int, bytes, bytes]:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = None
        chunked = False
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size + 2))
            body = b"".join(p[:-2] for p in parts)
        elif length is not None:
            body = await self.reader.readexactly(length) if length else b""
        else:  # no length: the body runs to the end of the connection
            body = await self.reader.read()
            close = True
        self.used = True
        if close:
            await self.close()
        return status, head, body


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def location(head: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"location":
            return value.strip().decode("latin-1")
    return ""


class Stats:
    def __init__(self):
        self.statuses: dict[str, int] = {}
        self.latencies: list[float] = []
        self.conn_errors = 0
        self.error_samples: list[str] = []

    def add(self, status: int | None, latency: float | None, error: str = "") -> None:
        if status is None:
            self.conn_errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(error)
            return
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.latencies.append(latency)

    def summary(self, duration: float) -> dict:
        lat = sorted(self.latencies)
        requests = len(lat)
        errors_5xx = sum(n for s, n in self.statuses.items() if s.startswith("5"))
        return {
            "requests": requests,
            "duration_s": round(duration, 3),
            "rps": round(requests / duration, 1) if duration > 0 else None,
            "statuses": dict(sorted(self.statuses.items())),
            "conn_errors": self.conn_errors,
            "errors_5xx": errors_5xx + self.conn_errors,
            "error_samples": self.error_samples,
            "p50_ms": _ms(percentile(lat, 50)),
            "p95_ms": _ms(percentile(lat, 95)),
            "p99_ms": _ms(percentile(lat, 99)),
            "max_ms": _ms(lat[-1] if lat else None),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


class LoadGen:
    def __init__(self, args):
        self.host = args.host
        self.port = args.port
        self.concurrency = args.concurrency
        self.rng = random.Random(args.seed)
        with open(args.residents_file, encoding="utf-8") as fh:
            data = json.load(fh)
        self.residents = data["residents"]  # [cookie header, csrf form token, ebike id]
        self.host_header = f"{self.host}:{self.port}"
        # --close: one connection per request, like a proxy without upstream keep-alive.
        self.extra_headers = "Connection: close\r\n" if args.close else ""
        self.booked: set[int] = set()  # residents who got a booking in the storm
        self.conns = [Conn(self.host, self.port) for _ in range(self.concurrency)]

    async def reopen(self) -> None:
        await asyncio.gather(*(c.close() for c in self.conns))
        # Connect before the clock starts; a failed connect is retried (and counted as an
        # error) by the first request on that connection.
        await asyncio.gather(*(c.open() for c in self.conns), return_exceptions=True)

    def reconnects(self) -> int:
        return sum(c.reconnects for c in self.conns)

    def get_request(self, path: str, cookie: str | None) -> bytes:
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host_header}", "Accept: text/html"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        return ("\r\n".join(lines) + "\r\n" + self.extra_headers + "\r\n").encode()

    def post_booking(self, resident: int, slot_id: int) -> bytes:
        cookie, token, ebike = self.residents[resident]
        body = f"{CSRF_FORM_FIELD}={token}&slot={slot_id}&ebike={ebike}".encode()
        head = (
            f"POST /book/{slot_id}/ HTTP/1.1\r\n"
            f"Host: {self.host_header}\r\n"
            f"Cookie: {cookie}\r\n"
            "Accept: text/html\r\n"
            f"{self.extra_headers}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    @staticmethod
    async def timed(conn: Conn, raw: bytes, stats: Stats) -> tuple[int | None, bytes, bytes]:
        """Send a request, record its status and latency; return (status, head, body)."""
        t0 = time.perf_counter()
        try:
            status, head, body = await conn.request(raw)
        except ConnectionFailed as exc:
            stats.add(None, None, str(exc))
            return None, b"", b""
        stats.add(status, time.perf_counter() - t0)
        return status, head, body

    # --- phases -------------------------------------------------------------------------

    async def get_phase(self, path: str, seconds: float, cookies: bool) -> dict:
        await self.reopen()
        stats = Stats()
        n = len(self.residents)
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(conn: Conn):
            while time.perf_counter() < deadline:
                cookie = self.residents[self.rng.randrange(n)][0] if cookies else None
                await self.timed(conn, self.get_request(path, cookie), stats)

        await asyncio.gather(*(worker(c) for c in self.conns))
        result = stats.summary(time.perf_counter() - start)
        result["reconnects"] = self.reconnects()
        return result

    async def storm(self, slots: list[int], double_every: int) -> dict:
        """Every resident once, in random order; see release_storm.py for the rules."""
        await self.reopen()
        stats = Stats()
        pool: asyncio.Queue[Conn] = asyncio.Queue()
        for c in self.conns:
            pool.put_nowait(c)
        pair_lock = asyncio.Lock()  # one pair acquisition at a time: no deadlock on the pool
        slot_set = set(slots)
        order = list(range(len(self.residents)))
        self.rng.shuffle(order)
        doubles = set(order[::double_every]) if double_every > 0 else set()
        counts = {
            "residents": len(order),
            "doubles": len(doubles),
            "retries": 0,
            "retries_to_alternative": 0,
        }
        other_302: list[str] = []

        def outcome(status: int | None, head: bytes) -> str:
            if status == 302:
                loc = location(head)
                if loc.startswith("/bookings/"):
                    return "booked"
                if len(other_302) < 5:
                    other_302.append(loc)
            return "refused" if status == 409 else "other"

        async def attempt(resident: int, slot_id: int, twice: bool) -> list[tuple[str, bytes]]:
            raw = self.post_booking(resident, slot_id)
            if twice:
                async with pair_lock:
                    a = await pool.get()
                    b = await pool.get()
                try:
                    results = await asyncio.gather(
                        self.timed(a, raw, stats), self.timed(b, raw, stats)
                    )
                finally:
                    pool.put_nowait(a)
                    pool.put_nowait(b)
            else:
                c = await pool.get()
                try:
                    results = [await self.timed(c, raw, stats)]
                finally:
                    pool.put_nowait(c)
            return [(outcome(status, head), body) for status, head, body in results]

        def retry_target(first: int, results: list[tuple[str, bytes]]) -> int | None:
            # What a resident does on the sold-out page: click one of the windows it offers
            # as still having places; if it offers none, try another window at random.
            offered = {
                int(m)
                for _, body in results
                for m in ALTERNATIVE_LINK.findall(body)
                if int(m) != first and int(m) in slot_set
            }
            if offered:
                counts["retries_to_alternative"] += 1
                return self.rng.choice(sorted(offered))
            others = [s for s in slots if s != first]
            return self.rng.choice(others) if others else None

        queue = iter(order)

        async def driver():
            for resident in queue:
                first = self.rng.choice(slots)
                results = await attempt(resident, first, resident in doubles)
                kinds = [kind for kind, _ in results]
                if "booked" not in kinds and "refused" in kinds:
                    second = retry_target(first, results)
                    if second is not None:
                        counts["retries"] += 1
                        kinds = [kind for kind, _ in await attempt(resident, second, False)]
                if "booked" in kinds:
                    self.booked.add(resident)

        started_wall = time.time()
        start = time.perf_counter()
        await asyncio.gather(*(driver() for _ in range(self.concurrency)))
        duration = time.perf_counter() - start
        result = stats.summary(duration)
        result.update(counts)
        result["attempts"] = result["requests"] + result["conn_errors"]
        result["attempts_per_s"] = round(result["attempts"] / duration, 1)
        result["started_wall"] = started_wall
        result["booked_seen"] = len(self.booked)
        result["other_302_samples"] = other_302
        result["reconnects"] = self.reconnects()
        return result

    async def soldout(self, slots: list[int], seconds: float) -> dict:
        await self.reopen()
        stats = Stats()
        candidates = [i for i in range(len(self.residents)) if i not in self.booked]
        if not candidates or not slots:
            return {"requests": 0, "rps": None, "skipped": "no unbooked residents or no slots"}
        start = time.perf_counter()
        deadline = start + seconds

        async def worker(conn: Conn):
            while time.perf_counter() < deadline:
                raw = self.post_booking(self.rng.choice(candidates), self.rng.choice(slots))
                await self.timed(conn, raw, stats)

        await asyncio.gather(*(worker(c) for c in self.conns))
        result = stats.summary(time.perf_counter() - start)
        result["reconnects"] = self.reconnects()
        return result

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self.reply({"ready": True, "residents": len(self.residents)})
        while line := await reader.readline():
            cmd = json.loads(line)
            name = cmd["cmd"]
            if name == "quit":
                break
            if name == "get":
                result = await self.get_phase(cmd["path"], cmd["seconds"], cmd["cookies"])
            elif name == "storm":
                result = await self.storm(cmd["slots"], cmd["double_every"])
            elif name == "soldout":
                result = await self.soldout(cmd["slots"], cmd["seconds"])
            else:
                result = {"error": f"unknown command {name!r}"}
            self.reply(result)
        await asyncio.gather(*(c.close() for c in self.conns))

    @staticmethod
    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--residents-file", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--close", action="store_true", help="new connection per request")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this load generator only talks to the loopback interface")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(LoadGen(args).run())


if __name__ == "__main__":
    main()
