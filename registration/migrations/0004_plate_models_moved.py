"""PlateNumber and PlateRegistration now belong to the counter app (counter 0001).

State only: their tables stay as they are, under their old names.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0003_clear_expired_sessions_schedule"),
        ("counter", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PlateNumber"),
                migrations.DeleteModel(name="PlateRegistration"),
            ],
            database_operations=[],
        ),
    ]
