"""Reconcile the daily release every minute (django-celery-beat).

The 08:00 run is one trigger that can be lost (the broker down that minute, a killed
worker); this run releases any day the schedule should have released by now and has not,
and alerts when one is still missing five minutes after the release time. It does nothing
once the days are released. A schedule an admin already created is left as it is.
"""

from django.conf import settings
from django.db import migrations

TASK = "appointments.tasks.release_reconcile"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = CrontabSchedule.objects.get_or_create(
        minute="*",
        hour="*",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    if not PeriodicTask.objects.filter(task=TASK).exists():
        PeriodicTask.objects.create(
            name="Reconcile the daily release",
            task=TASK,
            crontab=every_minute,
            # A run not started within a few minutes is superseded by a later one: runs
            # queued while no worker ran do not pile up.
            expire_seconds=300,
            description="Releases any day the schedule should have released and has not.",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0012_notification_sending_unknown"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
