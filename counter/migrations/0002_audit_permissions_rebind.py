"""The audit log records permission changes and ID numbers moved at the counter."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('counter', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='auditentry',
            name='audit_action_valid',
        ),
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('reveal_id', 'full ID number shown'), ('search', 'search'), ('check_in', 'check-in'), ('no_show', 'no-show marked'), ('inspection', 'inspection failed'), ('registration', 'plate issued'), ('queue', 'walk-in queue'), ('refused', 'action refused'), ('plate_void', 'plate voided'), ('clerks', 'office clerks changed'), ('release', 'release now'), ('release_schedule', 'release schedule changed'), ('permissions', 'staff permissions changed'), ('rebind', 'ID number moved to another account')], max_length=20, verbose_name='action'),
        ),
        migrations.AddConstraint(
            model_name='auditentry',
            constraint=models.CheckConstraint(condition=models.Q(('action__in', ['reveal_id', 'search', 'check_in', 'no_show', 'inspection', 'registration', 'queue', 'refused', 'plate_void', 'clerks', 'release', 'release_schedule', 'permissions', 'rebind'])), name='audit_action_valid'),
        ),
    ]
