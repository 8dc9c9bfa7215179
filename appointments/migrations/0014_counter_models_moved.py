"""AuditEntry, Inspection and QueueTicket now belong to the counter app (counter 0001).

State only: their tables stay as they are, under their old names.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0013_release_reconcile_schedule"),
        ("counter", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="AuditEntry"),
                migrations.DeleteModel(name="Inspection"),
                migrations.DeleteModel(name="QueueTicket"),
            ],
            database_operations=[],
        ),
    ]
