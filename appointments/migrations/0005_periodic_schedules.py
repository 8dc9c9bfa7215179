"""Schedule the periodic sweeps (django-celery-beat); admins can change them afterwards.

- reminders for the next day's bookings, daily at 18:00 local time;
- the notification outbox drain, every 5 seconds (the only way messages leave);
- the no-show sweep, every 5 minutes (safe to run any number of times).
"""

from django.conf import settings
from django.db import migrations


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    evening, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="18",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name="Queue booking reminders for tomorrow",
        defaults={"task": "appointments.tasks.queue_reminders", "crontab": evening},
    )
    five_seconds, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Send notifications left in the outbox",
        defaults={"task": "appointments.tasks.drain_outbox", "interval": five_seconds},
    )
    five_minutes, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Mark no-shows",
        defaults={"task": "appointments.tasks.mark_no_shows", "interval": five_minutes},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0004_outbox_counter_queue"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
