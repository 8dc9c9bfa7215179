"""Queue reminders every evening hour (18:00-23:00), not once at 18:00.

A booking made or moved into tomorrow after 18:00 (a place freed by a cancellation) would
otherwise get no reminder. The sweep is keyed per booking, so running it again sends
nothing twice. A schedule an admin already changed is left as it is.
"""

from django.conf import settings
from django.db import migrations

TASK = "appointments.tasks.queue_reminders"


def evening_hours(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    evenings, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="18-23",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.filter(task=TASK, crontab__hour="18", crontab__minute="0").update(
        crontab=evenings
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0006_attempts_sold_out"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(evening_hours, migrations.RunPython.noop)]
