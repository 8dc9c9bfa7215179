"""What an audit entry says: a code with parameters, rendered in the reader's language.

An ``AuditEntry`` stores ``detail_code`` (a key of ``DETAILS``) and ``detail_params``
(numbers, dates, plate numbers and further codes, never a name, ID or phone number of
a resident). The text is made only when the log is read, so a supervisor reading in
Chinese or English sees the same entry in their language.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from appointments.models import WalkinReason

from .models import AuditEntry, Inspection

SEARCH_KINDS = {
    "code": _("confirmation code"),
    "qr": _("QR code"),
    "id_number": _("ID number"),
    "phone": _("mobile number"),
}

# The counter and supervision actions a refusal can be about.
REFUSED_ACTIONS = {
    "check_in": _("check-in"),
    "no_show": _("marking a no-show"),
    "plate_issue": _("inspection and plate issue"),
    "priority_walkin": _("priority walk-in"),
    "ticket_issue": _("issuing a queue number"),
    "ticket_call": _("calling the next number"),
    "ticket_recall": _("calling a number again"),
    "ticket_skip": _("skipping a number"),
    "ticket_serve": _("serving a queue number"),
    "rebind": _("moving an ID number to another account"),
}

# Why a counter action was refused: the ``code`` of the service's exception.
REFUSAL_REASONS = {
    "not_your_office": _("not a clerk of this office"),
    "other_office": _("the booking is for another office"),
    "not_today": _("the booking is not for today"),
    "already_checked_in": _("already checked in"),
    "booking_status": _("the booking's status does not allow it"),
    "not_started": _("the time window has not started yet"),
    "not_checked_in": _("not checked in yet"),
    "not_main_urban": _("priority walk-ins are served only at main-urban service points"),
    "under_65": _("under 65 by the ID number"),
    "no_certificate": _("no veteran certificate number"),
    "no_listed_reason": _("no listed reason to be served without a booking"),
    "already_priority": _("already registered an e-bike as a priority walk-in"),
    "already_active": _("already holds a booking or a priority walk-in"),
    "no_walkin_window": _("the office has no walk-in window"),
    "not_called": _("the number has not been called"),
    "ticket_closed": _("the number is already served or skipped"),
    "unknown_item": _("unknown inspection item"),
    "no_ebike": _("the booking names no e-bike"),
    "plate_format": _("not a plate number of this city's format"),
    "plate_not_in_stock": _("not an available plate of this office's stock"),
    "frame_has_plate": _("the frame number already has a plate"),
    "plated": _("the e-bike already has a plate"),
    "frame_number": _("invalid frame number"),
    "frame_taken": _("the frame number is on record for another person"),
    "real_name": _("no real name"),
    "id_length": _("invalid ID number"),
    "id_characters": _("invalid ID number"),
    "id_birth_date": _("invalid ID number"),
    "id_checksum": _("invalid ID number"),
    "id_region": _("invalid ID number"),
    "id_taken": _("the ID number is registered to another account"),
    "id_unknown": _("nobody on record has the ID number"),
    "account_unknown": _("no such account"),
    "same_account": _("the ID number is already on that account"),
    "account_has_id": _("the account holds another ID number"),
    "active_booking": _("the ID number has an active booking"),
    "other": _("another reason"),
}

PLATE_VOID_REASONS = {
    "damaged": _("damaged"),
    "lost": _("lost"),
}


@dataclass(frozen=True)
class Detail:
    """A message with named placeholders; ``labels`` translate parameters that are codes."""

    message: Promise
    labels: Mapping[str, Mapping[str, Promise]] = field(default_factory=dict)


DETAILS: dict[str, Detail] = {
    "search": Detail(_("by %(kind)s: %(count)d found"), {"kind": SEARCH_KINDS}),
    "priority_walkin": Detail(
        _("priority walk-in: %(reason)s"), {"reason": dict(WalkinReason.choices)}
    ),
    "inspection_failed": Detail(_("failed: %(items)s"), {"items": dict(Inspection.Item.choices)}),
    "plate_issued": Detail(_("plate %(plate)s")),
    "ticket_issue": Detail(_("number %(number)d issued")),
    "ticket_call": Detail(_("number %(number)d called")),
    "ticket_recall": Detail(_("number %(number)d called again")),
    "ticket_skip": Detail(_("number %(number)d skipped")),
    "ticket_serve": Detail(_("number %(number)d served")),
    "refused": Detail(
        _("%(what)s refused: %(reason)s"),
        {"what": REFUSED_ACTIONS, "reason": REFUSAL_REASONS},
    ),
    "plate_void": Detail(_("plate %(plate)s voided: %(reason)s"), {"reason": PLATE_VOID_REASONS}),
    "clerk_added": Detail(_("clerk added: %(name)s")),
    "clerk_removed": Detail(_("clerk removed: %(name)s")),
    "release_now": Detail(
        _(
            "%(date)s released now: %(places)d places at %(offices)d offices, "
            "%(closed)d closed, %(already)d already released"
        )
    ),
    "release_schedule": Detail(
        _("release schedule: %(old)s → %(new)s"),
    ),
    # Permission changes (``supervision.services.user_privileges_set``): one entry each.
    "staff_granted": Detail(_("staff status given to %(name)s")),
    "staff_removed": Detail(_("staff status taken from %(name)s")),
    "superuser_granted": Detail(_("superuser status given to %(name)s")),
    "superuser_removed": Detail(_("superuser status taken from %(name)s")),
    "group_joined": Detail(_("%(name)s added to the group %(group)s")),
    "group_left": Detail(_("%(name)s removed from the group %(group)s")),
    "permission_granted": Detail(_("permission %(permission)s given to %(name)s")),
    "permission_removed": Detail(_("permission %(permission)s taken from %(name)s")),
    "group_permission_granted": Detail(_("permission %(permission)s given to the group %(group)s")),
    "group_permission_removed": Detail(
        _("permission %(permission)s taken from the group %(group)s")
    ),
    "group_deleted": Detail(_("group %(group)s deleted")),
    # An ID number moved at the counter (``counter.services.identity_rebind``): the masked
    # number and the two accounts' ids, never a phone number.
    "rebind": Detail(
        _("ID number %(id_masked)s moved from account %(old_user)s to account %(new_user)s")
    ),
}

# Text written before details were codes is kept as it was, under this code.
LEGACY = "legacy"

# The actions of supervisors rather than of clerks at the counter.
SUPERVISION_ACTIONS = (
    AuditEntry.Action.PLATE_VOID,
    AuditEntry.Action.CLERKS,
    AuditEntry.Action.RELEASE,
    AuditEntry.Action.RELEASE_SCHEDULE,
    AuditEntry.Action.PERMISSIONS,
)


def _label(labels: Mapping[str, Promise], value) -> str:
    if isinstance(value, list):
        separator = pgettext("list separator", ", ")
        return separator.join(_label(labels, item) for item in value)
    label = labels.get(value)
    if label is None:
        return gettext("another reason") if labels is REFUSAL_REASONS else str(value)
    return str(label)


def schedule_text(at: str | None, horizon_days: int | None) -> str:
    """A release schedule as one reads it: "08:00, 1 day ahead", or "none"."""
    if horizon_days is None:
        return gettext("none")
    return ngettext("%(at)s, %(days)d day ahead", "%(at)s, %(days)d days ahead", horizon_days) % {
        "at": at or pgettext("release time", "by pattern"),
        "days": horizon_days,
    }


def detail_text(code: str, params: Mapping | None) -> str:
    """The entry's detail in the active language ("" when it has none)."""
    if not code:
        return ""
    if code == LEGACY:
        return str((params or {}).get("text", ""))
    detail = DETAILS.get(code)
    params = dict(params or {})
    if detail is None:
        return code
    for name, labels in detail.labels.items():
        if name in params:
            params[name] = _label(labels, params[name])
    if code == "release_schedule":
        params = {
            "old": schedule_text(params.get("old_at"), params.get("old_horizon")),
            "new": schedule_text(params.get("new_at"), params.get("new_horizon")),
        }
    try:
        return str(detail.message) % params
    except (KeyError, TypeError, ValueError):
        return str(detail.message)


_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def detail_search_q(text: str) -> Q:
    """Entries whose detail reads ``text`` in the active language or in English.

    Matches a message's words (any parameters), a label of a coded parameter (e.g. the
    reason "veteran"), or a parameter itself (a plate or ticket number).
    """
    needle = text.casefold()
    query = Q(detail_params__icontains=text)  # a plate or ticket number, or legacy text

    def readings(message) -> list[str]:
        with translation.override("en"):
            english = str(message)
        return [_PLACEHOLDER.sub(" ", t).casefold() for t in (str(message), english)]

    for code, detail in DETAILS.items():
        if any(needle in reading for reading in readings(detail.message)):
            query |= Q(detail_code=code)
        for labels in detail.labels.values():
            for value, label in labels.items():
                if any(needle in reading for reading in readings(label)):
                    query |= Q(detail_code=code, detail_params__icontains=json.dumps(value))
    return query
