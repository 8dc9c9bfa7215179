"""Audit details become a code with parameters; new actions; city-wide entries have no office.

The old English ``detail`` text stays until 0009 has turned it into codes; 0010 drops it.
"""

import django.db.models.deletion
from django.db import migrations, models

import core.encoders

ACTIONS = [
    "reveal_id",
    "search",
    "check_in",
    "no_show",
    "inspection",
    "registration",
    "queue",
    "refused",
    "plate_void",
    "clerks",
    "release",
    "release_schedule",
]


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0007_evening_reminders"),
        ("offices", "0004_planned_changes"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="auditentry", name="audit_action_valid"),
        migrations.AddField(
            model_name="auditentry",
            name="detail_code",
            field=models.CharField(blank=True, max_length=40, verbose_name="detail"),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="detail_params",
            field=models.JSONField(
                blank=True,
                default=dict,
                encoder=core.encoders.UnicodeJSONEncoder,
                verbose_name="detail parameters",
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("reveal_id", "full ID number shown"),
                    ("search", "search"),
                    ("check_in", "check-in"),
                    ("no_show", "no-show marked"),
                    ("inspection", "inspection failed"),
                    ("registration", "plate issued"),
                    ("queue", "walk-in queue"),
                    ("refused", "action refused"),
                    ("plate_void", "plate voided"),
                    ("clerks", "office clerks changed"),
                    ("release", "release now"),
                    ("release_schedule", "release schedule changed"),
                ],
                max_length=20,
                verbose_name="action",
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="office",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="audit_entries",
                to="offices.office",
                verbose_name="office",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.CheckConstraint(
                condition=models.Q(action__in=ACTIONS), name="audit_action_valid"
            ),
        ),
    ]
