"""Statistics for supervisors: what was released, booked and served, per day, week or office.

Every figure belongs to the day the places were for (the appointment day), so a day's
row reads as "of the places released for this day, so many were booked, ...". Read-only:
a handful of grouped queries for any period, then sums in Python.

- booked: online bookings made for the day, whatever became of them (a moved booking
  counts for its new day);
- booking attempts: bookings made plus attempts refused because the window was sold out,
  so the success rate is booked / attempts. Other refusals (already holding a booking, a
  double submit, a no-show cooldown, ...) are not a failure to get a place and are counted
  apart;
- sell-out time: from the day's release to the first moment it had no place left;
- walk-ins: people served without a booking, by reason; queue waits run from the ticket
  to its (last) call.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils.translation import gettext_lazy as _

from appointments.models import Booking, Channel, DayRelease, RefusedAttempts
from core.clock import local_day_bounds
from counter.audit import SUPERVISION_ACTIONS
from counter.models import AuditEntry, QueueTicket
from offices.models import Complaint, Office
from registration.models import User


class Group:
    DAY = "day"
    WEEK = "week"
    OFFICE = "office"
    CHOICES = [(DAY, _("day")), (WEEK, _("week")), (OFFICE, _("office"))]


@dataclass
class Figures:
    released: int = 0
    booked: int = 0
    cancelled: int = 0
    checked_in: int = 0
    completed: int = 0
    no_shows: int = 0
    walkins_veteran: int = 0
    walkins_senior: int = 0
    walkins_window: int = 0
    tickets: int = 0
    tickets_called: int = 0
    wait_seconds: float = 0.0
    refused_full: int = 0
    refused_other: int = 0
    days_released: int = 0
    days_sold_out: int = 0
    sell_out_seconds: float = 0.0

    def add(self, other: "Figures") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def attempts(self) -> int:
        return self.booked + self.refused_full

    @property
    def success_rate(self) -> float | None:
        """Booked / attempts, as a percentage; None without attempts."""
        return 100 * self.booked / self.attempts if self.attempts else None

    @property
    def mean_wait_minutes(self) -> float | None:
        return self.wait_seconds / 60 / self.tickets_called if self.tickets_called else None

    @property
    def mean_sell_out_minutes(self) -> float | None:
        """Mean time from release to sell-out over the days that sold out."""
        return self.sell_out_seconds / 60 / self.days_sold_out if self.days_sold_out else None

    def cells(self) -> list[str]:
        """The figures as shown on the page and written to the CSV, in COLUMNS order."""
        return [
            str(self.released),
            str(self.booked),
            str(self.cancelled),
            str(self.checked_in),
            str(self.completed),
            str(self.no_shows),
            str(self.walkins_veteran),
            str(self.walkins_senior),
            str(self.walkins_window),
            str(self.tickets),
            _one_decimal(self.mean_wait_minutes),
            str(self.attempts),
            str(self.refused_full),
            str(self.refused_other),
            _one_decimal(self.success_rate),
            f"{self.days_sold_out}/{self.days_released}",
            _one_decimal(self.mean_sell_out_minutes),
        ]


COLUMNS = [
    _("places released"),
    _("booked"),
    _("cancelled"),
    _("checked in"),
    _("registrations completed"),
    _("no-shows"),
    _("walk-ins: veterans"),
    _("walk-ins: aged 65+"),
    _("walk-ins: window"),
    _("queue tickets"),
    _("mean wait (min)"),
    _("booking attempts"),
    _("refused as sold out"),
    _("other refusals"),
    _("success rate (%)"),
    _("days sold out"),
    _("mean time to sell out (min)"),
]


def _one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


@dataclass
class Row:
    key: object
    label: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class Report:
    start: datetime.date
    end: datetime.date
    group: str
    rows: list[Row]
    total: Figures
    days: list[Row]  # always per day, for the charts


def _cells(start, end, offices) -> dict[tuple[int, datetime.date], Figures]:
    """Figures per (office id, day) for the period; a few grouped queries in all."""
    cells: dict[tuple[int, datetime.date], Figures] = defaultdict(Figures)
    in_period = Q(date__gte=start, date__lte=end, office__in=offices)

    for office_id, day, capacity, released_at, sold_out_at in DayRelease.objects.filter(
        in_period
    ).values_list("office_id", "date", "capacity", "released_at", "sold_out_at"):
        f = cells[office_id, day]
        f.released += capacity
        if capacity:
            f.days_released += 1
        if sold_out_at is not None:
            f.days_sold_out += 1
            f.sell_out_seconds += (sold_out_at - released_at).total_seconds()

    bookings = (
        Booking.objects.filter(in_period)
        .values("office_id", "date", "source", "walkin_reason", "status")
        .annotate(n=Count("id"), checked=Count("checked_in_at"))
        .order_by()
    )
    for b in bookings:
        f = cells[b["office_id"], b["date"]]
        n = b["n"]
        if b["status"] == Booking.Status.COMPLETED:
            f.completed += n
        if b["source"] == Channel.ONLINE:
            f.booked += n
            f.checked_in += b["checked"]
            if b["status"] == Booking.Status.CANCELLED:
                f.cancelled += n
            elif b["status"] == Booking.Status.NO_SHOW:
                f.no_shows += n
        elif b["status"] != Booking.Status.CANCELLED:
            reason = b["walkin_reason"]
            attr = {"veteran": "walkins_veteran", "senior": "walkins_senior"}.get(
                reason, "walkins_window"
            )
            setattr(f, attr, getattr(f, attr) + n)

    waited = ExpressionWrapper(F("called_at") - F("issued_at"), output_field=DurationField())
    for office_id, day, n, called, wait in (
        QueueTicket.objects.filter(in_period)
        .values_list("office_id", "date")
        .annotate(n=Count("id"), called=Count("called_at"), wait=Sum(waited))
        .order_by()
    ):
        f = cells[office_id, day]
        f.tickets += n
        f.tickets_called += called
        f.wait_seconds += wait.total_seconds() if wait else 0.0

    for office_id, day, reason, total in RefusedAttempts.objects.filter(in_period).values_list(
        "office_id", "date", "reason", "total"
    ):
        f = cells[office_id, day]
        if reason == RefusedAttempts.Reason.FULL:
            f.refused_full += total
        else:
            f.refused_other += total
    return cells


def report(
    *,
    start: datetime.date,
    end: datetime.date,
    group: str = Group.DAY,
    office: Office | None = None,
) -> Report:
    """The figures for ``start``..``end`` (inclusive), grouped by day, week or office."""
    offices = Office.objects.filter(pk=office.pk) if office else Office.objects.all()
    names = dict(offices.values_list("pk", "name"))
    cells = _cells(start, end, list(names))

    def group_key(office_id, day):
        if group == Group.OFFICE:
            return office_id
        if group == Group.WEEK:
            return day - datetime.timedelta(days=day.weekday())
        return day

    def label(key) -> str:
        if group == Group.OFFICE:
            return names[key]
        if group == Group.WEEK:
            return f"{key:%Y-%m-%d} – {key + datetime.timedelta(days=6):%Y-%m-%d}"
        return f"{key:%Y-%m-%d}"

    grouped: dict = {}
    per_day: dict = {}
    total = Figures()
    for (office_id, day), f in cells.items():
        key = group_key(office_id, day)
        grouped.setdefault(key, Row(key, label(key))).figures.add(f)
        per_day.setdefault(day, Row(day, f"{day:%m-%d}")).figures.add(f)
        total.add(f)
    if group == Group.OFFICE:
        rows = sorted(grouped.values(), key=lambda r: r.label)
    else:
        rows = [grouped[k] for k in sorted(grouped)]
    days = []
    day = start
    while day <= end:  # every day of the period, empty ones too, so the charts keep time
        days.append(per_day.get(day) or Row(day, f"{day:%m-%d}"))
        day += datetime.timedelta(days=1)
    return Report(start=start, end=end, group=group, rows=rows, total=total, days=days)


# --- per clerk ----------------------------------------------------------------------------


@dataclass
class ClerkRow:
    clerk: object
    counts: dict[str, int]
    priority_walkins: int
    window_served: int

    @property
    def check_ins(self) -> int:
        """Everyone the clerk checked in, with a booking or as a priority walk-in."""
        return self.counts.get(AuditEntry.Action.CHECK_IN, 0)

    def cells(self) -> list[int]:
        return [
            self.check_ins - self.priority_walkins,
            self.priority_walkins,
            self.window_served,
            self.counts.get(AuditEntry.Action.NO_SHOW, 0),
            self.counts.get(AuditEntry.Action.INSPECTION, 0),
            self.counts.get(AuditEntry.Action.REGISTRATION, 0),
            self.counts.get(AuditEntry.Action.REVEAL_ID, 0),
        ]


CLERK_COLUMNS = [
    _("bookings checked in"),
    _("priority walk-ins"),
    _("window walk-ins served"),
    _("no-shows marked"),
    _("inspections failed"),
    _("plates issued"),
    _("full ID numbers shown"),
]


def _audit_in_period(start, end, office):
    low, high = local_day_bounds(start, end)
    entries = AuditEntry.objects.filter(at__gte=low, at__lt=high)
    return entries.filter(office=office) if office else entries


def clerk_counts(
    *, start: datetime.date, end: datetime.date, office: Office | None = None
) -> list[ClerkRow]:
    """What each clerk did in the period, from the audit log (refused actions and
    supervisors' actions, such as voiding plates or assigning clerks, are not counted)."""

    entries = _audit_in_period(start, end, office).exclude(
        action__in=[AuditEntry.Action.REFUSED, *SUPERVISION_ACTIONS]
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for clerk_id, action, n in (
        entries.values_list("clerk_id", "action").annotate(n=Count("id")).order_by()
    ):
        counts[clerk_id][action] = n
    priority = dict(
        entries.filter(action=AuditEntry.Action.CHECK_IN, booking__source=Channel.PRIORITY_WALKIN)
        .values_list("clerk_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    window = dict(
        entries.filter(action=AuditEntry.Action.QUEUE, booking__source=Channel.WALKIN_WINDOW)
        .values_list("clerk_id")
        .annotate(n=Count("booking_id", distinct=True))
        .order_by()
    )
    clerks = User.objects.in_bulk(list(counts))
    rows = [
        ClerkRow(clerks[pk], counts[pk], priority.get(pk, 0), window.get(pk, 0)) for pk in counts
    ]
    return sorted(rows, key=lambda r: str(r.clerk))


# --- integrity flags ------------------------------------------------------------------------


@dataclass
class Flag:
    kind: str  # "office" or "clerk"
    subject: object
    what: str  # "walkins" or "complaints"
    count: int
    served: int
    threshold: float

    @property
    def share(self) -> float:
        """Percentage of the people served."""
        return 100 * self.count / self.served if self.served else 100.0


def integrity_flags(
    *,
    start: datetime.date,
    end: datetime.date,
    office: Office | None = None,
    walkin_share: float | None = None,
    complaint_share: float | None = None,
    clerks: list[ClerkRow] | None = None,
) -> list[Flag]:
    """Offices and clerks whose priority walk-ins (people served without a booking), or
    complaints, are above a share of the people they served; highest share first.

    Shares are fractions (0.1 = 10 %), by default from settings.INTEGRITY_*_SHARE. The
    walk-in window is a channel of its own and not counted here; complaints name an
    office, not a clerk.
    """
    walkin_share = settings.INTEGRITY_WALKIN_SHARE if walkin_share is None else walkin_share
    complaint_share = (
        settings.INTEGRITY_COMPLAINT_SHARE if complaint_share is None else complaint_share
    )
    offices = Office.objects.filter(pk=office.pk) if office else Office.objects.all()
    office_by_pk = offices.in_bulk()
    in_period = Q(date__gte=start, date__lte=end, office__in=list(office_by_pk))
    served = (
        Booking.objects.filter(in_period, checked_in_at__isnull=False)
        .values_list("office_id")
        .annotate(
            all=Count("id"),
            priority=Count("id", filter=Q(source=Channel.PRIORITY_WALKIN)),
        )
        .order_by()
    )
    complaints = dict(
        Complaint.objects.filter(
            incident_date__gte=start, incident_date__lte=end, office__in=list(office_by_pk)
        )
        .values_list("office_id")
        # People who complained, not complaints: one account filing forty cannot flag an
        # office (and offices.services limits how many it files).
        .annotate(n=Count("user", distinct=True))
        .order_by()
    )
    flags: list[Flag] = []
    served_by_office = {pk: (n, priority) for pk, n, priority in served}
    for pk, subject in office_by_pk.items():
        n, priority = served_by_office.get(pk, (0, 0))
        if priority and priority > walkin_share * n:
            flags.append(Flag("office", subject, "walkins", priority, n, walkin_share))
        complained = complaints.get(pk, 0)
        if complained and complained > complaint_share * n:
            flags.append(Flag("office", subject, "complaints", complained, n, complaint_share))
    if clerks is None:  # the page passes the rows it already has
        clerks = clerk_counts(start=start, end=end, office=office)
    for row in clerks:
        if row.priority_walkins and row.priority_walkins > walkin_share * row.check_ins:
            flags.append(
                Flag(
                    "clerk", row.clerk, "walkins", row.priority_walkins, row.check_ins, walkin_share
                )
            )
    return sorted(flags, key=lambda f: (-f.share, f.kind, str(f.subject)))
