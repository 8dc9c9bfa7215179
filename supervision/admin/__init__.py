"""The supervisors' admin: the offices and their capacity (with the capacity overview and
the release controls), the audit log with its search, and the accounts and groups (who
may change permissions). Django's autodiscovery imports
this package; each module registers its model admins."""

from . import audit, offices, users

__all__ = ["audit", "offices", "users"]
