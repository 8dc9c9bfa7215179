"""What happens at the counter: inspections, plates in stock and issued, the walk-in
window's tickets, and the audit log of what clerks and supervisors did.

The tables were created by the appointments and registration apps and keep their names
(``db_table``); migration 0001 moved them here in Django's state only.
"""

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from appointments.models import Channel
from core.encoders import UnicodeJSONEncoder


class AuditEntry(models.Model):
    """One counter or supervision action: who did what, where, when, to whom, and why.

    The detail is a code with parameters (``counter.audit.DETAILS``), rendered in the
    reader's language; it never holds a resident's ID or phone number.
    """

    class Action(models.TextChoices):
        REVEAL_ID = "reveal_id", _("full ID number shown")
        SEARCH = "search", _("search")
        CHECK_IN = "check_in", _("check-in")
        NO_SHOW = "no_show", _("no-show marked")
        INSPECTION = "inspection", _("inspection failed")
        REGISTRATION = "registration", _("plate issued")
        QUEUE = "queue", _("walk-in queue")
        REFUSED = "refused", _("action refused")
        PLATE_VOID = "plate_void", _("plate voided")
        CLERKS = "clerks", _("office clerks changed")
        RELEASE = "release", _("release now")
        RELEASE_SCHEDULE = "release_schedule", _("release schedule changed")
        PERMISSIONS = "permissions", _("staff permissions changed")
        REBIND = "rebind", _("ID number moved to another account")

    clerk = models.ForeignKey(
        "registration.User",
        on_delete=models.PROTECT,
        related_name="audit_entries",
        verbose_name=_("clerk"),
    )
    # None: a city-wide action (a release, the release schedule).
    office = models.ForeignKey(
        "offices.Office",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("office"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    booking = models.ForeignKey(
        "appointments.Booking",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("booking"),
    )
    resident = models.ForeignKey(
        "registration.Resident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
        verbose_name=_("resident"),
    )
    detail_code = models.CharField(_("detail"), max_length=40, blank=True)
    detail_params = models.JSONField(
        _("detail parameters"), default=dict, blank=True, encoder=UnicodeJSONEncoder
    )
    at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        db_table = "appointments_auditentry"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    action__in=[
                        "reveal_id",
                        "search",
                        "check_in",
                        "no_show",
                        "inspection",
                        "registration",
                        "queue",
                        "refused",
                        "plate_void",
                        "clerks",
                        "release",
                        "release_schedule",
                        "permissions",
                        "rebind",
                    ]
                ),
                name="audit_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.clerk} {self.action}"


class Inspection(models.Model):
    """The vehicle inspection (查验) at the counter; failures are told all at once."""

    class Item(models.TextChoices):
        PERSON = "person", _("The person matches the ID card")
        NUMBERS = "numbers", _("Frame and motor numbers match the certificate of conformity")
        STANDARD = "standard", _("The vehicle meets the national standard")
        INVOICE = "invoice", _("The purchase invoice is there")

    booking = models.ForeignKey(
        "appointments.Booking",
        on_delete=models.PROTECT,
        related_name="inspections",
        verbose_name=_("booking"),
    )
    clerk = models.ForeignKey(
        "registration.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("clerk")
    )
    failed_items = models.JSONField(_("failed items"), default=list, blank=True)
    at = models.DateTimeField(_("time"))

    class Meta:
        db_table = "appointments_inspection"
        verbose_name = _("inspection")
        verbose_name_plural = _("inspections")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.booking} {self.at:%Y-%m-%d %H:%M}"

    @property
    def passed(self) -> bool:
        return not self.failed_items

    def failed_labels(self) -> list[str]:
        labels = dict(self.Item.choices)
        return [str(labels.get(item, item)) for item in self.failed_items]

    # What a resident must bring or fix for each failed item, in plain words (the item
    # labels above are the pass criteria the clerk ticks, not something a resident can act on).
    TO_FIX: ClassVar[dict[str, object]] = {
        Item.PERSON: _(
            "Come yourself, with your own resident ID card: the booking holder must be there."
        ),
        Item.NUMBERS: _(
            "The frame or motor number on the e-bike does not match its certificate of "
            "conformity: bring the certificate that belongs to this e-bike, or ask the seller "
            "for a correct one."
        ),
        Item.STANDARD: _(
            "The e-bike does not meet the national standard (GB 17761) and cannot be "
            "registered as it is: ask the seller or maker what can be done."
        ),
        Item.INVOICE: _("Bring the purchase invoice of the e-bike."),
    }

    def to_fix(self) -> list[str]:
        """The failed items as what to bring or fix, in the order they were recorded."""
        labels = dict(self.Item.choices)
        return [str(self.TO_FIX.get(item) or labels.get(item, item)) for item in self.failed_items]


class QueueTicket(models.Model):
    """A numbered ticket for the same-day walk-in window; numbers restart every day."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting")
        CALLED = "called", _("called")
        SERVED = "served", _("served")
        SKIPPED = "skipped", _("skipped")

    office = models.ForeignKey(
        "offices.Office", on_delete=models.PROTECT, related_name="tickets", verbose_name=_("office")
    )
    date = models.DateField(_("date"))
    number = models.PositiveIntegerField(_("number"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.WAITING
    )
    issued_at = models.DateTimeField(_("issued at"))
    called_at = models.DateTimeField(_("called at"), null=True, blank=True)
    served_at = models.DateTimeField(_("served at"), null=True, blank=True)
    booking = models.OneToOneField(
        "appointments.Booking",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket",
        verbose_name=_("booking"),
    )

    class Meta:
        db_table = "appointments_queueticket"
        verbose_name = _("queue ticket")
        verbose_name_plural = _("queue tickets")
        ordering = ["date", "office", "number"]
        constraints = [
            models.UniqueConstraint(fields=["office", "date", "number"], name="one_ticket_number"),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "called", "served", "skipped"]),
                name="ticket_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.date:%Y-%m-%d} #{self.number}"

    @property
    def is_called(self) -> bool:
        """Being called: it can be called again or served."""
        return self.status == self.Status.CALLED

    @property
    def is_open(self) -> bool:
        """Waiting or called: it can still be skipped."""
        return self.status in (self.Status.WAITING, self.Status.CALLED)


class PlateRegistration(models.Model):
    """A plate issued for an e-bike: one plate per frame, each plate number once."""

    plate_number = models.CharField(_("plate number"), max_length=16, unique=True)
    ebike = models.OneToOneField(
        "registration.EBike",
        on_delete=models.PROTECT,
        related_name="plate",
        verbose_name=_("e-bike"),
    )
    office = models.ForeignKey(
        "offices.Office",
        on_delete=models.PROTECT,
        related_name="registrations",
        verbose_name=_("office"),
    )
    clerk = models.ForeignKey(
        "registration.User",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registrations_done",
        verbose_name=_("clerk"),
    )
    booking = models.OneToOneField(
        "appointments.Booking",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="registration",
        verbose_name=_("booking"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    registered_at = models.DateTimeField(_("registered at"))

    class Meta:
        db_table = "registration_plateregistration"
        verbose_name = _("plate registration")
        verbose_name_plural = _("plate registrations")
        ordering = ["-registered_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(plate_number=""), name="plate_number_not_empty"),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="plate_registration_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.plate_number


class PlateNumber(models.Model):
    """A physical plate in an office's stock: loaded by admins, issued once, or voided."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("available")
        ISSUED = "issued", _("issued")
        VOIDED = "voided", _("voided (damaged or lost)")

    number = models.CharField(_("plate number"), max_length=16, unique=True)
    office = models.ForeignKey(
        "offices.Office",
        on_delete=models.PROTECT,
        related_name="plate_stock",
        verbose_name=_("office"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("loaded at"))
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)

    class Meta:
        db_table = "registration_platenumber"
        verbose_name = _("plate in stock")
        verbose_name_plural = _("plate stock")
        ordering = ["office", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["available", "issued", "voided"]),
                name="plate_stock_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["office", "status"], name="plate_stock_office_status")]

    def __str__(self) -> str:
        return self.number
