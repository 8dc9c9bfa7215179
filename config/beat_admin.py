"""django-celery-beat's model admins, with a fix (registered by config.apps once
autodiscovery has run; this module imports the admin site, so config.admin cannot)."""

from celery.schedules import ParseException
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule


class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    """django-celery-beat's own, whose read-only "human readable" field raises on the
    invalid values a refused form leaves on the object (a 500 instead of the form's
    errors); here it shows a dash then."""

    @admin.display(description=_("human readable"))
    def human_readable(self, obj: CrontabSchedule) -> str:
        try:
            return obj.human_readable
        except (ValueError, ParseException):
            return "—"


def register_third_party_admins(site: admin.AdminSite) -> None:
    """Replace third-party model admins that need a fix (called once autodiscovery ran)."""
    if site.is_registered(CrontabSchedule):
        site.unregister(CrontabSchedule)
    site.register(CrontabSchedule, CrontabScheduleAdmin)
