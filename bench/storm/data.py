"""Everything the benchmark does through Django, in its own process.

The same settings and secrets as gunicorn (``environment.bench_env``): the schema, the
offices and the storm day, the residents with their signed-in sessions, the release, and
the checks of the database after the run.

Import this module only after ``django.setup()``: it imports the app's models. It is the
only module of the package that needs Django set up (with ``django_internals``, which it
imports).
"""

import datetime
import io
import json
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from appointments.models import Booking, DayRelease, Notification, RefusedAttempts, Slot
from appointments.services import slots_release
from core.clock import week_bounds
from offices import demo
from offices.models import ClosedDay, Office, TimeWindow
from offices.planning import split_capacity
from registration import crypto
from registration.idnumber import check_character, mask_id_number, parse_id_number
from registration.models import EBike, Resident, User

from .django_internals import SignedInSessions


def prepare_schema() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    # Production settings use WhiteNoise's manifest storage: pages fail without it.
    call_command("collectstatic", verbosity=0, interactive=False)


def _days_all_open(offices, day, closed) -> bool:
    return all(o.opens_on_weekday(day.isoweekday()) and (o.pk, day) not in closed for o in offices)


def prepare_offices(n_offices: int, capacity: int | None) -> datetime.date:
    """Demo offices (+ extra ones), only main-urban ones active; return the storm day."""
    call_command("load_demo", days=0, stdout=io.StringIO())
    with transaction.atomic():
        # load_demo released today; at a real release earlier days are long sold out, so
        # the storm day is the only one with places (and the only one offered on a 409).
        Slot.objects.all().delete()
        DayRelease.objects.all().delete()
        Office.objects.filter(is_main_urban=False).update(is_active=False)
        main = list(Office.objects.filter(is_main_urban=True, is_active=True).order_by("pk"))
        for k in range(len(main), n_offices):
            office = Office.objects.create(
                code=f"bench-{k + 1:02d}",
                name=f"压测网点 {k + 1}（虚构）",
                district="压测区",
                address=f"压测路 {k + 1} 号（虚构地址）",
                **demo.MAIN_URBAN_DEFAULTS,
            )
            TimeWindow.objects.bulk_create(
                TimeWindow(office=office, start=start, end=end, capacity=cap)
                for start, end, cap in demo.DEMO_WINDOWS
            )
            main.append(office)
        for office in main[n_offices:]:
            office.is_active = False
            office.save(update_fields=["is_active"])
        active = main[:n_offices]

        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        closed = set(ClosedDay.objects.values_list("office_id", "date"))
        day = next(
            (
                tomorrow + datetime.timedelta(days=i)
                for i in range(7)
                if _days_all_open(active, tomorrow + datetime.timedelta(days=i), closed)
            ),
            tomorrow,
        )
        if capacity is not None:
            base, extra = divmod(capacity, len(active))
            monday, sunday = week_bounds(day)
            for i, office in enumerate(active):
                share = base + (1 if i < extra else 0)
                windows = list(office.windows.order_by("start"))
                # Same proportions as the windows have now (split_capacity never gives a
                # window more than its weight, so scale the weights up first).
                weights = [w.capacity * max(share, 1) for w in windows]
                parts = split_capacity(share, weights) if share else []
                for w, part in zip(windows, parts or [0] * len(windows), strict=True):
                    w.capacity = max(1, part)
                    w.save(update_fields=["capacity"])
                used = (
                    Slot.objects.filter(office=office, date__range=(monday, sunday))
                    .exclude(date=day)
                    .aggregate(total=Sum("capacity"))["total"]
                    or 0
                )
                Office.objects.filter(pk=office.pk).update(
                    daily_capacity=share, weekly_quota=max(office.weekly_quota, used + share)
                )
    return day


def prepare_residents(n: int, path: Path, batch: int = 2000) -> dict:
    """Users, residents, e-bikes, a signed-in session and a CSRF token each; fast.

    Rows are bulk-created with the same hashing and encryption the services use; sessions
    are written as the login view would leave them (``django_internals.SignedInSessions``).
    Writes ``{"residents": [[cookie header, CSRF form token, e-bike id], ...]}`` to ``path``
    for the load generator.
    """
    sessions = SignedInSessions()
    born0 = datetime.date(1960, 1, 1)
    out = []
    t0 = time.perf_counter()
    for lo in range(0, n, batch):
        idx = range(lo, min(n, lo + batch))
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(email=f"bench{i:07d}@bench.example.org", password=make_password(None))
                for i in idx
            )
            residents = []
            for i, user in zip(idx, users, strict=True):
                born = born0 + datetime.timedelta(days=i // 999)
                first17 = f"210802{born:%Y%m%d}{i % 999 + 1:03d}"
                parsed = parse_id_number(first17 + check_character(first17))
                residents.append(
                    Resident(
                        user=user,
                        real_name=f"压测居民{i}",
                        id_hash=crypto.id_number_hash(parsed.number),
                        id_encrypted=crypto.encrypt(parsed.number),
                        id_masked=mask_id_number(parsed.number),
                        birth_date=parsed.birth_date,
                    )
                )
            residents = Resident.objects.bulk_create(residents)
            ebikes = EBike.objects.bulk_create(
                EBike(resident=r, frame_number=f"BENCH{i:09d}", brand="压测牌", model="B-1")
                for i, r in zip(idx, residents, strict=True)
            )
            for user, ebike in zip(users, ebikes, strict=True):
                cookie, csrf_token = sessions.sign_in(user)
                out.append([cookie, csrf_token, ebike.pk])
            sessions.flush()
    path.write_text(json.dumps({"residents": out}), encoding="utf-8")
    return {"session_engine": settings.SESSION_ENGINE, "seconds": time.perf_counter() - t0}


def release_day(day: datetime.date) -> tuple[list[int], int, float, float]:
    """Release the storm day now; return slot ids, places, duration and end (wall clock)."""
    t0 = time.perf_counter()
    slots_release(day=day)
    seconds = time.perf_counter() - t0
    released_wall = time.time()
    rows = list(
        Slot.objects.filter(date=day, office__is_active=True, capacity__gt=0).values_list(
            "id", "capacity"
        )
    )
    return [pk for pk, _ in rows], sum(c for _, c in rows), seconds, released_wall


def check_database(day: datetime.date, storm_started_wall: float | None) -> dict:
    """Invariants after the run, straight from the database."""
    live = ~Q(bookings__status=Booking.Status.CANCELLED)
    slots = Slot.objects.annotate(n=Count("bookings", filter=live))
    overbooked = slots.filter(Q(booked__gt=F("capacity")) | Q(n__gt=F("capacity"))).count()
    mismatches = list(slots.exclude(booked=F("n")).values("id", "booked", "n")[:20])
    mismatch_count = slots.exclude(booked=F("n")).count()
    duplicate_ids = (
        Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES)
        .values("resident__id_hash")
        .annotate(c=Count("id"))
        .filter(c__gt=1)
        .count()
    )
    day_bookings = Booking.objects.filter(slot__date=day).exclude(status=Booking.Status.CANCELLED)
    booked = day_bookings.count()
    last = day_bookings.aggregate(last=Max("created_at"))["last"]
    return {
        "booked": booked,
        "overbooked": overbooked,
        "duplicate_ids": duplicate_ids,
        "counter_mismatches": mismatch_count,
        "counter_mismatch_samples": [
            {"slot": m["id"], "counter": m["booked"], "bookings": m["n"]} for m in mismatches
        ],
        "bookings_other_days": Booking.objects.exclude(slot__date=day).count(),
        "notifications": Notification.objects.count(),
        "last_booking_wall": last.timestamp() if last else None,
        "sellout_candidate_s": (
            round(last.timestamp() - storm_started_wall, 3) if last and storm_started_wall else None
        ),
    }


def refusals_recorded(app_env: list[str]) -> int | None:
    """Refused attempts the app recorded for the statistics, once its workers have flushed
    them (a timer writes each worker's counts a few seconds after its last refusal)."""
    seconds = float(settings.BOOKING_ATTEMPTS_FLUSH_SECONDS)
    for item in app_env:
        name, _, value = item.partition("=")
        if name == "BOOKING_ATTEMPTS_FLUSH_SECONDS":
            seconds = float(value)
    if seconds > 10:
        return None  # counting deliberately held back in this run
    time.sleep(seconds + 1)
    return RefusedAttempts.objects.aggregate(n=Sum("total"))["n"] or 0


def close_connections() -> None:
    """Close this process's connections: none is held open through the phases."""
    connections.close_all()
