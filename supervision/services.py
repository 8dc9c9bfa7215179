"""What supervisors decide, on the record: the release now, the release schedule, which
clerks serve an office.

Each decision calls the service that owns the table it changes (the release in
``appointments``, the schedule's beat task) and records who decided what in the audit log
(``counter.services.audit_record``) within the same transaction.
"""

import datetime
from collections.abc import Iterable

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from appointments import services as booking_services
from appointments.services import ReleaseResult
from counter.models import AuditEntry
from counter.services import audit_record
from offices import services as quota_services
from offices.models import Office
from registration.models import User


def release_now(
    *, day: datetime.date, user: User, now: datetime.datetime | None = None
) -> ReleaseResult:
    """An admin's "release now" of ``day``: the scheduled release, run at once and audited
    (who, which day, what it released). Running it again releases nothing twice."""
    now = now or timezone.now()
    with transaction.atomic():  # released and on the record, or neither
        result = booking_services.slots_release(day=day, now=now)
        _release_audit(user, day, result, now)
    return result


def _release_audit(
    user: User, day: datetime.date, result: ReleaseResult, now: datetime.datetime
) -> None:
    audit_record(
        clerk=user,
        office=None,
        action=AuditEntry.Action.RELEASE,
        code="release_now",
        params={
            "date": day.isoformat(),
            "places": result.places,
            "offices": len(result.released),
            "closed": len(result.closed),
            "already": len(result.already),
        },
        now=now,
    )


def release_schedule_set(*, at: datetime.time, horizon_days: int, user: User) -> PeriodicTask:
    """Set the release time and horizon; the change (old and new) goes in the audit log and
    in the admin history of the beat task."""
    with transaction.atomic():
        change = booking_services.release_schedule_change(at=at, horizon_days=horizon_days)
        before = change.before
        was = "none"
        if before is not None:
            was = f"{before.at:%H:%M}" if before.at else "pattern"
            was += f", {before.horizon_days} d"
        LogEntry.objects.log_actions(
            user.pk,
            [change.task],
            CHANGE,
            change_message=f"Release schedule: {was} -> {at:%H:%M}, {horizon_days} d",
            single_object=True,
        )
        audit_record(
            clerk=user,
            office=None,
            action=AuditEntry.Action.RELEASE_SCHEDULE,
            code="release_schedule",
            params={
                "old_at": f"{before.at:%H:%M}" if before is not None and before.at else None,
                "old_horizon": before.horizon_days if before is not None else None,
                "new_at": f"{at:%H:%M}",
                "new_horizon": horizon_days,
            },
        )
    return change.task


def office_clerks_set(
    *,
    office: Office,
    clerks: Iterable[User],
    user: User,
    now: datetime.datetime | None = None,
) -> tuple[list[User], list[User]]:
    """Assign exactly ``clerks`` to ``office``; each clerk added or removed is audited
    (which clerk, by whom, when)."""
    now = now or timezone.now()
    with transaction.atomic():
        added, removed = quota_services.office_clerks_replace(office=office, clerks=clerks)
        for code, changed in (("clerk_added", added), ("clerk_removed", removed)):
            for clerk in changed:
                audit_record(
                    clerk=user,
                    office=office,
                    action=AuditEntry.Action.CLERKS,
                    code=code,
                    params={"user": clerk.pk, "name": str(clerk)},
                    now=now,
                )
    return added, removed
