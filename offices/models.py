import re

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

WEEKDAY_NAMES = {
    1: _("Mon"),
    2: _("Tue"),
    3: _("Wed"),
    4: _("Thu"),
    5: _("Fri"),
    6: _("Sat"),
    7: _("Sun"),
}


def is_office_code(value: str) -> bool:
    """Whether ``value`` has the shape of an office code (a slug, as the field holds)."""
    return bool(OFFICE_CODE.fullmatch(value))


OFFICE_CODE = re.compile(r"[-a-zA-Z0-9_]{1,32}")


class Office(models.Model):
    """A service point (网点) where e-bikes are registered."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=32, unique=True)
    address = models.CharField(_("address"), max_length=200)
    district = models.CharField(_("district"), max_length=50)
    opening_hours = models.CharField(_("opening hours"), max_length=100, blank=True)
    is_main_urban = models.BooleanField(_("main urban area"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    has_walkin_window = models.BooleanField(_("same-day walk-in window"), default=False)
    # ISO weekdays the office opens, as digits in order: "123456" is Monday to Saturday.
    opening_weekdays = models.CharField(_("opening days"), max_length=7, default="12345")
    daily_capacity = models.PositiveIntegerField(_("daily online capacity"), default=0)
    weekly_quota = models.PositiveIntegerField(_("weekly online quota"), default=0)
    clerks = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("clerks"),
        related_name="clerk_offices",
        blank=True,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        ordering = ["code"]
        # Who serves at a counter sees full ID numbers there: assigning clerks is its own
        # permission, not part of editing an office (change_office).
        permissions = [("assign_clerks", _("Can assign the clerks of an office"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(opening_weekdays__regex=r"^1?2?3?4?5?6?7?$"),
                name="office_opening_weekdays_digits",
            ),
            models.CheckConstraint(condition=Q(daily_capacity__gte=0), name="office_daily_gte_0"),
            models.CheckConstraint(condition=Q(weekly_quota__gte=0), name="office_weekly_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def weekdays(self) -> list[int]:
        return [int(d) for d in self.opening_weekdays]

    def opens_on_weekday(self, isoweekday: int) -> bool:
        return str(isoweekday) in self.opening_weekdays

    def opening_days_display(self) -> str:
        return " ".join(str(WEEKDAY_NAMES[d]) for d in self.weekdays)


class TimeWindow(models.Model):
    """A part of the office's day; its capacity is its share of the daily capacity."""

    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="windows", verbose_name=_("office")
    )
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    capacity = models.PositiveIntegerField(_("capacity"))

    class Meta:
        verbose_name = _("time window")
        verbose_name_plural = _("time windows")
        ordering = ["office", "start"]
        constraints = [
            models.UniqueConstraint(fields=["office", "start"], name="window_unique_start"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="window_end_after_start"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="window_capacity_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.start:%H:%M}-{self.end:%H:%M}"


class ClosedDay(models.Model):
    office = models.ForeignKey(
        Office, on_delete=models.CASCADE, related_name="closed_days", verbose_name=_("office")
    )
    date = models.DateField(_("date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closed day")
        verbose_name_plural = _("closed days")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["office", "date"], name="closed_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.date:%Y-%m-%d}"


class QuotaChange(models.Model):
    """Who changed which capacity, when, from what to what, and why."""

    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="quota_changes", verbose_name=_("office")
    )
    field = models.CharField(_("field"), max_length=50)
    target = models.CharField(_("applies to"), max_length=100, blank=True)
    old_value = models.CharField(_("old value"), max_length=100, blank=True)
    new_value = models.CharField(_("new value"), max_length=100, blank=True)
    reason = models.TextField(_("reason"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), db_index=True)
    # The first day the change applies to (days before it keep what they had).
    effective_from = models.DateField(_("takes effect from"), null=True, blank=True)

    class Meta:
        verbose_name = _("quota change")
        verbose_name_plural = _("quota changes")
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="quota_change_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.field}: {self.old_value} → {self.new_value}"


class PlannedChange(models.Model):
    """A capacity decided now that takes effect from a later day.

    Until that day is released nothing changes; the release and the 14-day preview read
    the office's configuration with the planned changes due by each day laid over it.
    """

    class Field(models.TextChoices):
        DAILY_CAPACITY = "daily_capacity", _("daily online capacity")
        WEEKLY_QUOTA = "weekly_quota", _("weekly online quota")
        WINDOW_CAPACITY = "window_capacity", _("capacity of a time window")
        WINDOW_ADD = "window_add", _("a new time window")
        WINDOW_REMOVE = "window_remove", _("a time window ends")

    # The fields that name an existing window, and the one that describes a new one.
    WINDOW_FIELDS = ("window_capacity", "window_remove")

    office = models.ForeignKey(
        Office,
        on_delete=models.PROTECT,
        related_name="planned_changes",
        verbose_name=_("office"),
    )
    field = models.CharField(_("what changes"), max_length=20, choices=Field.choices)
    window = models.ForeignKey(
        TimeWindow,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="planned_changes",
        verbose_name=_("time window"),
    )
    # A new window's times; its capacity is ``value``.
    start = models.TimeField(_("start"), null=True, blank=True)
    end = models.TimeField(_("end"), null=True, blank=True)
    value = models.PositiveIntegerField(_("new value"), default=0)
    effective_from = models.DateField(_("takes effect from"))
    reason = models.TextField(_("reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("planned by"),
    )
    created_at = models.DateTimeField(_("planned at"))
    # Set once the day is today: from then on the office's own settings carry the value.
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("planned capacity change")
        verbose_name_plural = _("planned capacity changes")
        ordering = ["effective_from", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="planned_change_has_reason"),
            models.CheckConstraint(
                condition=Q(field__in=["window_capacity", "window_remove"], window__isnull=False)
                | Q(
                    field__in=["daily_capacity", "weekly_quota", "window_add"],
                    window__isnull=True,
                ),
                name="planned_change_window_iff_window_field",
            ),
            models.CheckConstraint(
                condition=Q(field="window_add", start__isnull=False, end__gt=F("start"))
                | (~Q(field="window_add") & Q(start__isnull=True, end__isnull=True)),
                name="planned_change_new_window_has_times",
            ),
        ]
        indexes = [models.Index(fields=["applied_at", "effective_from"], name="planned_pending")]

    def __str__(self) -> str:
        target = f" {self.window}" if self.window_id else ""
        return f"{self.office} {self.field}{target} = {self.value} from {self.effective_from}"


class Complaint(models.Model):
    """A resident's complaint about a service point, read by admins (督查)."""

    class Category(models.TextChoices):
        INSURANCE = "insurance", _("I was pushed to buy insurance")
        FEE = "fee", _("I was asked for a fee")
        QUEUE = "queue", _("Someone was let in without a booking")
        BOOKING = "booking", _("A problem with booking")
        STAFF = "staff", _("Staff conduct")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        IN_PROGRESS = "in_progress", _("in progress")
        ANSWERED = "answered", _("answered")
        CLOSED = "closed", pgettext_lazy("complaint status", "closed")

    TEXT_MAX_LENGTH = 2000

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="complaints",
        verbose_name=_("filed by"),
    )
    office = models.ForeignKey(
        Office, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("office")
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    incident_date = models.DateField(_("date of the incident"))
    text = models.TextField(_("what happened"), max_length=TEXT_MAX_LENGTH)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("filed at"))

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    category__in=["insurance", "fee", "queue", "booking", "staff", "other"]
                ),
                name="complaint_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["received", "in_progress", "answered", "closed"]),
                name="complaint_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.get_category_display()} {self.created_at:%Y-%m-%d}"
