"""Read-only search over the audit trail: counter actions and capacity changes, newest first.

Counter actions (``AuditEntry``) and quota changes (``offices.QuotaChange``) live in two
tables. One UNION of (kind, id, time) picks and orders the page; the page's rows are then
read with their relations, so a page costs four queries however deep it is.
"""

import datetime
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import CharField, F, Q, QuerySet, Value
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.clock import local_day_bounds
from counter.audit import detail_search_q, detail_text
from counter.models import AuditEntry
from offices.models import Office, PlannedChange, QuotaChange
from registration import services as registration_services

QUOTA = "quota"
PER_PAGE = 100

ACTION_CHOICES = [*AuditEntry.Action.choices, (QUOTA, _("quota change"))]
_LABELS = dict(ACTION_CHOICES)


def _office_field(name: str):
    return Office._meta.get_field(name).verbose_name


# What a quota change's ``field`` names, and the words its old and new values may be.
QUOTA_FIELD_LABELS = {
    "daily_capacity": _office_field("daily_capacity"),
    "weekly_quota": _office_field("weekly_quota"),
    "opening_weekdays": _office_field("opening_weekdays"),
    "is_main_urban": _office_field("is_main_urban"),
    "is_active": _office_field("is_active"),
    "window": _("time window"),
    "closed_day": _("closed day"),
    "slot_capacity": _("capacity of a released slot"),
    **dict(PlannedChange.Field.choices),
}
QUOTA_VALUE_LABELS = {
    "open": pgettext_lazy("office day", "open"),
    "closed": pgettext_lazy("office day", "closed"),
    "True": _("yes"),
    "False": _("no"),
}


def quota_field_label(field: str) -> str:
    return str(QUOTA_FIELD_LABELS.get(field, field))


def quota_value_label(value: str) -> str:
    return str(QUOTA_VALUE_LABELS.get(value, value))


def _quota_fields_reading(text: str) -> list[str]:
    """The quota fields whose label (in the active language or English) contains ``text``."""
    needle = text.casefold()
    with translation.override("en"):
        english = {field: str(label).casefold() for field, label in QUOTA_FIELD_LABELS.items()}
    return [
        field
        for field, label in QUOTA_FIELD_LABELS.items()
        if needle in str(label).casefold() or needle in english[field]
    ]


@dataclass(frozen=True)
class LogLine:
    at: datetime.datetime
    office: Office | None  # None: a city-wide action (a release, the release schedule)
    who: object | None  # the clerk, or the admin who changed a quota (None: the system)
    action: str
    booking_code: str = ""
    resident: str = ""  # "real name (masked ID)"
    detail: str = ""
    field: str = ""
    target: str = ""
    old_value: str = ""
    new_value: str = ""
    effective_from: datetime.date | None = None

    @property
    def action_label(self) -> str:
        return str(_LABELS.get(self.action, self.action))

    @property
    def is_quota(self) -> bool:
        return self.action == QUOTA

    @property
    def field_label(self) -> str:
        return quota_field_label(self.field)

    @property
    def old_value_label(self) -> str:
        return quota_value_label(self.old_value)

    @property
    def new_value_label(self) -> str:
        return quota_value_label(self.new_value)


def _person_q(prefix: str, person: str) -> Q:
    return Q(**{f"{prefix}__email__icontains": person}) | Q(
        **{f"{prefix}__resident__real_name__icontains": person}
    )


def audit_log_search(
    *,
    person: str = "",
    clerk_id: int | None = None,
    office_id: int | None = None,
    action: str = "",
    text: str = "",
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    id_number: str = "",
    phone: str = "",
    page: int | str = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """Return one page of audit lines (``page.object_list`` is a list of ``LogLine``).

    ``person`` matches the acting user's e-mail or name, and for counter actions also
    the resident's real name; ``text`` matches a counter action's detail (as read in the
    active language or in English) or booking code, or a quota change's field (its code or
    label), target or reason; ``id_number`` keeps only counter actions about
    that resident, and ``phone`` (E.164) the lines of the resident, clerk or admin with that
    mobile number. ``start`` and ``end`` are inclusive local dates.
    """
    person, text, id_number = person.strip(), text.strip(), id_number.strip()
    since, until = local_day_bounds(start, end)

    entries: QuerySet | None = AuditEntry.objects.all()
    changes: QuerySet | None = QuotaChange.objects.all()
    if action == QUOTA:
        entries = None
    elif action:
        entries = entries.filter(action=action)
        changes = None
    if id_number:
        changes = None
        resident = registration_services.resident_find_by_id_number(id_number)
        if entries is not None:
            entries = (
                entries.filter(Q(resident=resident) | Q(booking__resident=resident))
                if resident is not None
                else None
            )

    if phone:
        if entries is not None:
            entries = entries.filter(
                Q(clerk__phone=phone)
                | Q(resident__phone=phone)
                | Q(resident__user__phone=phone)
                | Q(booking__resident__phone=phone)
                | Q(booking__resident__user__phone=phone)
            )
        if changes is not None:
            changes = changes.filter(changed_by__phone=phone)

    if entries is not None:
        if clerk_id is not None:
            entries = entries.filter(clerk_id=clerk_id)
        if office_id is not None:
            entries = entries.filter(office_id=office_id)
        if person:
            entries = entries.filter(
                _person_q("clerk", person) | Q(resident__real_name__icontains=person)
            )
        if text:
            entries = entries.filter(detail_search_q(text) | Q(booking__code__iexact=text))
        if since:
            entries = entries.filter(at__gte=since)
        if until:
            entries = entries.filter(at__lt=until)
    if changes is not None:
        if clerk_id is not None:
            changes = changes.filter(changed_by_id=clerk_id)
        if office_id is not None:
            changes = changes.filter(office_id=office_id)
        if person:
            changes = changes.filter(_person_q("changed_by", person))
        if text:
            changes = changes.filter(
                Q(field__icontains=text)
                | Q(field__in=_quota_fields_reading(text))
                | Q(target__icontains=text)
                | Q(reason__icontains=text)
            )
        if since:
            changes = changes.filter(changed_at__gte=since)
        if until:
            changes = changes.filter(changed_at__lt=until)

    # Same columns, same order in both halves: (when, kind, id).
    keys = []
    if entries is not None:
        keys.append(
            entries.order_by()
            .annotate(when=F("at"), kind=Value("audit", output_field=CharField()), ident=F("pk"))
            .values_list("when", "kind", "ident")
        )
    if changes is not None:
        keys.append(
            changes.order_by()
            .annotate(
                when=F("changed_at"), kind=Value(QUOTA, output_field=CharField()), ident=F("pk")
            )
            .values_list("when", "kind", "ident")
        )
    if not keys:
        keys_qs: QuerySet | list = []
    elif len(keys) == 1:
        keys_qs = keys[0].order_by("-when", "-ident")
    else:
        keys_qs = keys[0].union(keys[1], all=True).order_by("-when", "kind", "-ident")

    result = Paginator(keys_qs, per_page).get_page(page)
    result.object_list = _lines(list(result.object_list))
    return result


def _lines(keys: list[tuple]) -> list[LogLine]:
    audit_ids = [ident for _when, kind, ident in keys if kind != QUOTA]
    quota_ids = [ident for _when, kind, ident in keys if kind == QUOTA]
    entries = (
        AuditEntry.objects.select_related(
            "office", "clerk", "booking", "resident", "booking__resident"
        ).in_bulk(audit_ids)
        if audit_ids
        else {}
    )
    changes = (
        QuotaChange.objects.select_related("office", "changed_by").in_bulk(quota_ids)
        if quota_ids
        else {}
    )
    lines = []
    for _when, kind, ident in keys:
        if kind == QUOTA:
            change = changes[ident]
            lines.append(
                LogLine(
                    at=change.changed_at,
                    office=change.office,
                    who=change.changed_by,
                    action=QUOTA,
                    detail=change.reason,
                    field=change.field,
                    target=change.target,
                    old_value=change.old_value,
                    new_value=change.new_value,
                    effective_from=change.effective_from,
                )
            )
        else:
            entry = entries[ident]
            resident = entry.resident or (entry.booking.resident if entry.booking else None)
            lines.append(
                LogLine(
                    at=entry.at,
                    office=entry.office,
                    who=entry.clerk,
                    action=entry.action,
                    booking_code=entry.booking.code if entry.booking else "",
                    resident=str(resident) if resident else "",
                    detail=detail_text(entry.detail_code, entry.detail_params),
                )
            )
    return lines
