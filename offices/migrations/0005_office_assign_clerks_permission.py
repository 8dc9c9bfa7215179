"""Assigning clerks is a permission of its own (offices.assign_clerks)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('offices', '0004_planned_changes'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='office',
            options={'ordering': ['code'], 'permissions': [('assign_clerks', 'Can assign the clerks of an office')], 'verbose_name': 'office', 'verbose_name_plural': 'offices'},
        ),
    ]
