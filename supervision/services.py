"""What supervisors decide, on the record: the release now, the release schedule, which
clerks serve an office, who holds which permission.

Each decision calls the service that owns the table it changes (the release in
``appointments``, the schedule's beat task) and records who decided what in the audit log
(``counter.services.audit_record``) within the same transaction.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask

from appointments import services as booking_services
from appointments.services import ReleaseResult
from core.errors import DomainError
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


class PrivilegeRefused(DomainError):
    """A change of who may do what that the acting user may not make."""

    code = "privilege_refused"


def clerks_assign_allowed(user: User) -> bool:
    """Whether ``user`` may change which clerks serve an office: a permission of its own
    (``offices.assign_clerks``), since a clerk sees full ID numbers at that counter."""
    return user.has_perm("offices.assign_clerks")


def clerk_self_assignment(user: User, *, office: Office, clerks: Iterable[User]) -> bool:
    """Whether ``clerks`` would make ``user`` a clerk of ``office`` who is not one now:
    nobody assigns themselves, a superuser neither (someone else has to)."""
    return any(clerk.pk == user.pk for clerk in clerks) and not (
        office.pk and office.clerks.filter(pk=user.pk).exists()
    )


def office_clerks_set(
    *,
    office: Office,
    clerks: Iterable[User],
    user: User,
    now: datetime.datetime | None = None,
) -> tuple[list[User], list[User]]:
    """Assign exactly ``clerks`` to ``office``; each clerk added or removed is audited
    (which clerk, by whom, when). ``user`` needs ``offices.assign_clerks`` and may not
    add themselves (PrivilegeRefused)."""
    now = now or timezone.now()
    clerks = list(clerks)
    if not clerks_assign_allowed(user):
        raise PrivilegeRefused(_("You may not assign the clerks of an office."))
    if clerk_self_assignment(user, office=office, clerks=clerks):
        raise PrivilegeRefused(
            _("You cannot make yourself a clerk; another administrator has to assign you.")
        )
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


@dataclass(frozen=True)
class PrivilegeChange:
    """One change of what an account may do, as recorded: the audit detail code and
    what was given or taken (a group's name or a permission as ``app_label.codename``)."""

    code: str
    target: str = ""


def _permission_name(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _set_difference(current: Iterable, wanted: Iterable) -> tuple[list, list]:
    now_in = {item.pk: item for item in current}
    want = {item.pk: item for item in wanted}
    added = [want[pk] for pk in sorted(want.keys() - now_in.keys())]
    removed = [now_in[pk] for pk in sorted(now_in.keys() - want.keys())]
    return added, removed


def privileges_editable(*, actor: User, user: User) -> bool:
    """Whether ``actor`` may change ``user``'s staff and superuser status, groups and
    permissions: only a superuser, and never on their own account (nobody raises or
    strips their own; another superuser has to)."""
    return bool(actor.is_active and actor.is_superuser and actor.pk != user.pk)


def user_privileges_set(
    *,
    user: User,
    actor: User,
    is_staff: bool | None = None,
    is_superuser: bool | None = None,
    groups: Iterable[Group] | None = None,
    permissions: Iterable[Permission] | None = None,
    now: datetime.datetime | None = None,
) -> list[PrivilegeChange]:
    """Set what ``user`` may do (None: leave that part as it is) and return the changes.

    Each change is an audit entry under ``actor`` (staff or superuser status given or
    taken, a group joined or left, a permission given or taken). A change ``actor`` may
    not make (``privileges_editable``) is refused as a whole: PrivilegeRefused, nothing
    changed. Setting what is already so is no change and is always allowed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changes: list[PrivilegeChange] = []
        for field, value in (("staff", is_staff), ("superuser", is_superuser)):
            if value is not None and bool(value) != getattr(locked, f"is_{field}"):
                changes.append(PrivilegeChange(f"{field}_{'granted' if value else 'removed'}"))
                setattr(locked, f"is_{field}", bool(value))
        groups_added: list[Group] = []
        groups_removed: list[Group] = []
        if groups is not None:
            groups_added, groups_removed = _set_difference(locked.groups.all(), groups)
            changes += [PrivilegeChange("group_joined", g.name) for g in groups_added]
            changes += [PrivilegeChange("group_left", g.name) for g in groups_removed]
        perms_added: list[Permission] = []
        perms_removed: list[Permission] = []
        if permissions is not None:
            current = locked.user_permissions.select_related("content_type")
            wanted = Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related(
                "content_type"
            )
            perms_added, perms_removed = _set_difference(current, wanted)
            changes += [
                PrivilegeChange("permission_granted", _permission_name(p)) for p in perms_added
            ]
            changes += [
                PrivilegeChange("permission_removed", _permission_name(p)) for p in perms_removed
            ]
        if not changes:
            return []
        if not privileges_editable(actor=actor, user=locked):
            raise PrivilegeRefused(
                _("Only a superuser can change this, and never on their own account.")
            )
        locked.save(update_fields=["is_staff", "is_superuser"])
        locked.groups.add(*groups_added)
        locked.groups.remove(*groups_removed)
        locked.user_permissions.add(*perms_added)
        locked.user_permissions.remove(*perms_removed)
        user.is_staff, user.is_superuser = locked.is_staff, locked.is_superuser
        for change in changes:
            params: dict = {"user": locked.pk, "name": str(locked)}
            if change.code.startswith("group_"):
                params["group"] = change.target
            elif change.code.startswith("permission_"):
                params["permission"] = change.target
            audit_record(
                clerk=actor,
                office=None,
                action=AuditEntry.Action.PERMISSIONS,
                code=change.code,
                params=params,
                now=now,
            )
    return changes


def group_permissions_set(
    *,
    group: Group,
    permissions: Iterable[Permission],
    actor: User,
    now: datetime.datetime | None = None,
) -> list[PrivilegeChange]:
    """Give ``group`` exactly ``permissions``; each permission given or taken is audited.
    Groups are a superuser's business (PrivilegeRefused otherwise)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = group.permissions.select_related("content_type")
        wanted = Permission.objects.filter(pk__in=[p.pk for p in permissions]).select_related(
            "content_type"
        )
        added, removed = _set_difference(current, wanted)
        changes = [
            PrivilegeChange("group_permission_granted", _permission_name(p)) for p in added
        ] + [PrivilegeChange("group_permission_removed", _permission_name(p)) for p in removed]
        if not changes:
            return []
        if not (actor.is_active and actor.is_superuser):
            raise PrivilegeRefused(_("Only a superuser can change the permissions of a group."))
        group.permissions.add(*added)
        group.permissions.remove(*removed)
        for change in changes:
            audit_record(
                clerk=actor,
                office=None,
                action=AuditEntry.Action.PERMISSIONS,
                code=change.code,
                params={"group": group.name, "permission": change.target},
                now=now,
            )
    return changes


def group_delete(*, group: Group, actor: User, now: datetime.datetime | None = None) -> None:
    """Delete a group (its members lose what it gave them), on the record."""
    if not (actor.is_active and actor.is_superuser):
        raise PrivilegeRefused(_("Only a superuser can delete a group."))
    with transaction.atomic():
        audit_record(
            clerk=actor,
            office=None,
            action=AuditEntry.Action.PERMISSIONS,
            code="group_deleted",
            params={"group": group.name},
            now=now,
        )
        group.delete()
