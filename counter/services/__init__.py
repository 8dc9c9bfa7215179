"""What a clerk does, by topic; every public service of the counter is named here.

- ``audit``: the counter audit and refusals with their reason;
- ``checkin``: search, the full ID number on the record, check-in, no-shows;
- ``walkins``: priority walk-ins (veterans, people aged 65+);
- ``queue``: the same-day walk-in window's tickets;
- ``plates``: plate stock, voids, inspection and issue;
- ``identity``: an ID number moved to the account of the person at the counter;
- ``errors``: what the counter refuses, by cause.
"""

from .audit import audit_record, refusal_code, refusals_audited
from .checkin import booking_check_in, booking_mark_no_show, counter_search, id_number_reveal
from .errors import (
    CheckInRefused,
    CounterError,
    NotYourOffice,
    PlateRefused,
    QueueError,
    WalkinRefused,
)
from .identity import RebindDone, RebindPlan, RebindRefused, identity_rebind, identity_rebind_plan
from .plates import (
    PLATE_VOID_REASONS,
    plate_issue,
    plate_number_clean,
    plate_stock_load,
    plate_void,
)
from .queue import ticket_call_next, ticket_issue, ticket_recall, ticket_serve, ticket_skip
from .walkins import priority_walkin_start

__all__ = [
    "PLATE_VOID_REASONS",
    "CheckInRefused",
    "CounterError",
    "NotYourOffice",
    "PlateRefused",
    "QueueError",
    "RebindDone",
    "RebindPlan",
    "RebindRefused",
    "WalkinRefused",
    "audit_record",
    "booking_check_in",
    "booking_mark_no_show",
    "counter_search",
    "id_number_reveal",
    "identity_rebind",
    "identity_rebind_plan",
    "plate_issue",
    "plate_number_clean",
    "plate_stock_load",
    "plate_void",
    "priority_walkin_start",
    "refusal_code",
    "refusals_audited",
    "ticket_call_next",
    "ticket_issue",
    "ticket_recall",
    "ticket_serve",
    "ticket_skip",
]
