import secrets
from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Crockford's base32 without I, L, O, U: easy to read aloud and to type at a counter.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits: unguessable, still short enough to read out


def new_confirmation_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def is_confirmation_code(value: str) -> bool:
    """Whether ``value`` (any case) has the shape of a confirmation code: CODE_LENGTH
    characters of CODE_ALPHABET. Anything else (a NUL, 10 000 characters, full-width
    digits) is looked up nowhere: it cannot name a booking."""
    return len(value) == CODE_LENGTH and all(char in CODE_ALPHABET for char in value.upper())


class Channel(models.TextChoices):
    ONLINE = "online", _("online booking")
    PRIORITY_WALKIN = "priority_walkin", _("priority walk-in")
    WALKIN_WINDOW = "walkin_window", _("walk-in window")


class WalkinReason(models.TextChoices):
    VETERAN = "veteran", _("veteran")
    SENIOR = "senior", _("aged 65 or over")
    WINDOW = "window", _("walk-in window")


class DayRelease(models.Model):
    """Marks that an office's day has been released; its existence makes release idempotent."""

    office = models.ForeignKey(
        "offices.Office",
        on_delete=models.PROTECT,
        related_name="releases",
        verbose_name=_("office"),
    )
    date = models.DateField(_("date"))
    capacity = models.PositiveIntegerField(_("places released"))
    closed = models.BooleanField(pgettext_lazy("office day", "closed"), default=False)
    released_at = models.DateTimeField(_("released at"))
    # The first moment every place of the day was taken (None: never sold out).
    sold_out_at = models.DateTimeField(_("sold out at"), null=True, blank=True)

    class Meta:
        verbose_name = _("day release")
        verbose_name_plural = _("day releases")
        ordering = ["-date", "office"]
        constraints = [
            models.UniqueConstraint(fields=["office", "date"], name="one_release_per_office_day"),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.date:%Y-%m-%d}"


class Slot(models.Model):
    """A released time window on one day; ``booked`` can never exceed ``capacity``."""

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="slots", verbose_name=_("office")
    )
    date = models.DateField(_("date"))
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    capacity = models.PositiveIntegerField(_("capacity"))
    booked = models.PositiveIntegerField(_("booked"), default=0)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["date", "office", "start"]
        constraints = [
            models.UniqueConstraint(fields=["office", "date", "start"], name="slot_unique_window"),
            models.CheckConstraint(condition=Q(booked__gte=0), name="slot_booked_gte_0"),
            models.CheckConstraint(
                condition=Q(booked__lte=F("capacity")), name="slot_not_overbooked"
            ),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="slot_end_after_start"),
        ]
        indexes = [models.Index(fields=["date", "office"], name="slot_date_office")]

    def __str__(self) -> str:
        return f"{self.office} {self.date:%Y-%m-%d} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def remaining(self) -> int:
        return self.capacity - self.booked


class Booking(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", _("booked")
        CANCELLED = "cancelled", _("cancelled")
        CHECKED_IN = "checked_in", _("checked in")
        COMPLETED = "completed", _("completed")
        NO_SHOW = "no_show", _("no-show")
        INSPECTION_FAILED = "inspection_failed", _("inspection failed: see the list")

    # A person holds at most one booking in these states (enforced by a constraint).
    ACTIVE_STATUSES = (Status.BOOKED, Status.CHECKED_IN)
    # The legal status changes, and the time each one stamps. Every service that changes
    # a status goes through ``appointments.services.booking_status_set``, which refuses
    # any other; a walk-in starts checked in (``walkin_booking_create``).
    TRANSITIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        Status.BOOKED: (Status.CANCELLED, Status.CHECKED_IN, Status.NO_SHOW),
        Status.CHECKED_IN: (Status.COMPLETED, Status.INSPECTION_FAILED),
    }
    STATUS_STAMPS: ClassVar[dict[str, str]] = {
        Status.CANCELLED: "cancelled_at",
        Status.CHECKED_IN: "checked_in_at",
        Status.COMPLETED: "completed_at",
        Status.NO_SHOW: "no_show_at",
    }

    code = models.CharField(
        _("confirmation code"), max_length=16, unique=True, default=new_confirmation_code
    )
    resident = models.ForeignKey(
        "registration.Resident",
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("resident"),
    )
    ebike = models.ForeignKey(
        "registration.EBike",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
        verbose_name=_("e-bike"),
    )
    office = models.ForeignKey(
        "offices.Office",
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("office"),
    )
    date = models.DateField(_("date"))
    # Online bookings hold a place in a slot; walk-ins are served without one.
    slot = models.ForeignKey(
        Slot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
        verbose_name=_("slot"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.BOOKED
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Channel.choices, default=Channel.ONLINE
    )
    # Without a booking, only these reasons let a person be served (see WalkinReason).
    walkin_reason = models.CharField(
        _("walk-in reason"), max_length=20, choices=WalkinReason.choices, blank=True
    )
    veteran_certificate = models.CharField(
        _("veteran certificate number"), max_length=40, blank=True
    )
    created_at = models.DateTimeField(_("booked at"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    no_show_at = models.DateTimeField(_("marked no-show at"), null=True, blank=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(status__in=["booked", "checked_in"]),
                name="one_active_booking_per_resident",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "booked",
                        "cancelled",
                        "checked_in",
                        "completed",
                        "no_show",
                        "inspection_failed",
                    ]
                ),
                name="booking_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(source__in=Channel.values), name="booking_source_valid"
            ),
            models.CheckConstraint(
                condition=~Q(source="online") | Q(slot__isnull=False),
                name="online_booking_has_slot",
            ),
            # Served without a booking only for one of the fixed reasons.
            models.CheckConstraint(
                condition=Q(source="online", walkin_reason="")
                | Q(source="priority_walkin", walkin_reason__in=["veteran", "senior"])
                | Q(source="walkin_window", walkin_reason="window"),
                name="walkin_has_a_listed_reason",
            ),
            models.CheckConstraint(
                condition=~Q(walkin_reason="veteran") | ~Q(veteran_certificate=""),
                name="veteran_walkin_has_certificate",
            ),
            # One e-bike per person through the priority rule, ever (cancelled ones aside).
            models.UniqueConstraint(
                fields=["resident"],
                condition=Q(source="priority_walkin") & Q(status__in=["checked_in", "completed"]),
                name="one_priority_walkin_per_person",
            ),
        ]
        indexes = [
            models.Index(fields=["office", "date", "status"], name="booking_office_day"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @classmethod
    def statuses_leading_to(cls, status: str) -> list[str]:
        """The statuses a booking may be in to change to ``status``."""
        return [old for old, new in cls.TRANSITIONS.items() if status in new]

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, ())

    @property
    def is_served(self) -> bool:
        """The counter has finished with it: a plate issued, or the failed inspection's list."""
        return self.status in (self.Status.COMPLETED, self.Status.INSPECTION_FAILED)


class Notification(models.Model):
    """Outbox: a message to a resident, written in the booking's transaction.

    The periodic drain (a Celery task every few seconds) sends pending rows, so a
    booking never waits for, or depends on, the broker; ``key`` makes the same event
    impossible to record, and so to send, twice. ``slot`` is the booking's slot when
    the message was queued: what the message is about. A message that is no longer
    true when it would be sent (the booking was cancelled or moved) is marked
    superseded and never sent.

    A drain claims a row (pending or unknown -> sending, committed) before it calls the
    gateway, and holds no transaction across the call; a timeout leaves the row
    "unknown" (it may have arrived), retried only with the same key as message id. A
    row left "sending" by a crash is moved to "unknown" after a lease.
    """

    class Event(models.TextChoices):
        CONFIRMATION = "confirmation", _("booking confirmation")
        REMINDER = "reminder", _("reminder the day before")
        CANCELLATION = "cancellation", _("cancellation notice")
        MOVED = "moved", _("booking moved")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        UNKNOWN = "unknown", _("outcome unknown")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SUPERSEDED = "superseded", _("superseded, not sent")

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("booking")
    )
    event = models.CharField(_("event"), max_length=20, choices=Event.choices)
    slot = models.ForeignKey(
        Slot,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("slot"),
    )
    key = models.CharField(_("deduplication key"), max_length=100, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # After a failed attempt, not before this time (back-off); None means now.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    # When a drain claimed the row to call the gateway; a "sending" row older than the
    # lease was left by a crash.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="notification_pending")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="sent_notification_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="sending_notification_has_claim",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class RefusedAttempts(models.Model):
    """Booking attempts refused, counted per office, day and reason.

    A successful attempt is its booking row; a refused one leaves no row, so the booking
    path counts them in memory and adds them here in batches (appointments.attempts).
    Together they give the booking success rate.
    """

    class Reason(models.TextChoices):
        FULL = "full", _("sold out")
        ALREADY_BOOKED = "already_booked", _("already holds a booking")
        COOLDOWN = "cooldown", _("no-show cooldown")
        OTHER = "other", _("other refusal")

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="+", verbose_name=_("office")
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    total = models.PositiveIntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("refused booking attempts")
        verbose_name_plural = _("refused booking attempts")
        ordering = ["-date", "office", "reason"]
        constraints = [
            models.UniqueConstraint(
                fields=["office", "date", "reason"], name="one_attempt_count_per_reason"
            ),
            models.CheckConstraint(
                condition=Q(reason__in=["full", "already_booked", "cooldown", "other"]),
                name="attempt_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.date:%Y-%m-%d} {self.reason}: {self.total}"
