"""Create the daily release schedule (django-celery-beat); admins edit it afterwards."""

import json

from django.conf import settings
from django.db import migrations

TASK_NAME = "Release slots for upcoming days"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hour, minute = settings.SLOT_RELEASE_TIME.split(":")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(int(minute)),
        hour=str(int(hour)),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "appointments.tasks.release_upcoming_slots",
            "crontab": crontab,
            "kwargs": json.dumps({"horizon_days": settings.SLOT_RELEASE_HORIZON_DAYS}),
            "description": "Releases the next day's slots at the configured local time.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0002_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
