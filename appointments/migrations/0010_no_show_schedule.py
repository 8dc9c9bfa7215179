"""Schedule the no-show sweep every 5 minutes (it is safe to run any number of times)."""

from django.db import migrations


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Mark no-shows",
        defaults={"task": "appointments.tasks.mark_no_shows", "interval": every},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0009_audit_no_show"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
