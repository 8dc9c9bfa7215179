"""The outbox drain is now the only path to residents: run it every 5 seconds."""

from django.db import migrations

DRAIN = "appointments.tasks.drain_outbox"


def every_five_seconds(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=5, period="seconds")
    PeriodicTask.objects.filter(task=DRAIN).update(interval=interval)


def every_minute(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.filter(task=DRAIN).update(interval=interval)


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0006_notification_backoff"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(every_five_seconds, every_minute)]
