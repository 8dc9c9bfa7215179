"""Notifications record the slot they are about, and may be superseded instead of sent.

Reminders are keyed per booking and date (``reminder:<id>:<YYYY-MM-DD>``), so a moved
booking is reminded of its new date. The data step gives existing rows their booking's
slot, re-keys existing reminders by the date they were queued for (the day after their
local creation date) and supersedes a pending reminder whose booking is no longer
booked on that date.
"""

import datetime

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def record_slots_and_date_reminders(apps, schema_editor):
    Notification = apps.get_model("appointments", "Notification")
    rows = Notification.objects.filter(slot__isnull=True).select_related("booking__slot")
    for notification in rows.iterator():
        booking = notification.booking
        notification.slot_id = booking.slot_id
        if notification.event == "reminder" and notification.key.count(":") == 1:
            day = timezone.localdate(notification.created_at) + datetime.timedelta(days=1)
            notification.key = f"{notification.key}:{day.isoformat()}"
            still_due = booking.status == "booked" and booking.date == day
            if notification.status == "pending" and not still_due:
                notification.status = "superseded"
        notification.save(update_fields=["slot", "key", "status"])


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0010_remove_auditentry_detail"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="slot",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="appointments.slot",
                verbose_name="slot",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "pending"),
                    ("sent", "sent"),
                    ("failed", "failed"),
                    ("superseded", "superseded, not sent"),
                ],
                default="pending",
                max_length=10,
                verbose_name="status",
            ),
        ),
        migrations.RunPython(record_slots_and_date_reminders, migrations.RunPython.noop),
    ]
