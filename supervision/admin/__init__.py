"""The supervisors' admin: the offices and their capacity (with the capacity overview and
the release controls), and the audit log with its search. Django's autodiscovery imports
this package; each module registers its model admins."""

from . import audit, offices

__all__ = ["audit", "offices"]
