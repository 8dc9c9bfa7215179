"""Schedule the reminder run (daily, 18:00 local) and the outbox drain (every minute)."""

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
    minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="Send notifications left in the outbox",
        defaults={"task": "appointments.tasks.drain_outbox", "interval": minute},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0004_notification_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
