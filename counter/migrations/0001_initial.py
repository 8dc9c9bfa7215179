"""The counter's models, moved here from appointments and registration in Django's state only.

The tables keep their names (``db_table``) and their rows: nothing in the database changes
but the content types, which follow the models so that permissions granted on them stay.
"""

import core.encoders
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = {
    "appointments": ["auditentry", "inspection", "queueticket"],
    "registration": ["platenumber", "plateregistration"],
}


def move_content_types(apps, schema_editor, forward=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for old_label, names in MOVED.items():
        source, target = (old_label, "counter") if forward else ("counter", old_label)
        ContentType.objects.using(db).filter(app_label=source, model__in=names).update(
            app_label=target
        )


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, forward=False)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('appointments', '0013_release_reconcile_schedule'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('offices', '0004_planned_changes'),
        ('registration', '0003_clear_expired_sessions_schedule'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                    migrations.CreateModel(
                        name='Inspection',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('failed_items', models.JSONField(blank=True, default=list, verbose_name='failed items')),
                            ('at', models.DateTimeField(verbose_name='time')),
                            ('booking', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='inspections', to='appointments.booking', verbose_name='booking')),
                            ('clerk', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='clerk')),
                        ],
                        options={
                            'verbose_name': 'inspection',
                            'verbose_name_plural': 'inspections',
                            'db_table': 'appointments_inspection',
                            'ordering': ['-at'],
                        },
                    ),
                    migrations.CreateModel(
                        name='AuditEntry',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('action', models.CharField(choices=[('reveal_id', 'full ID number shown'), ('search', 'search'), ('check_in', 'check-in'), ('no_show', 'no-show marked'), ('inspection', 'inspection failed'), ('registration', 'plate issued'), ('queue', 'walk-in queue'), ('refused', 'action refused'), ('plate_void', 'plate voided'), ('clerks', 'office clerks changed'), ('release', 'release now'), ('release_schedule', 'release schedule changed')], max_length=20, verbose_name='action')),
                            ('detail_code', models.CharField(blank=True, max_length=40, verbose_name='detail')),
                            ('detail_params', models.JSONField(blank=True, default=dict, encoder=core.encoders.UnicodeJSONEncoder, verbose_name='detail parameters')),
                            ('at', models.DateTimeField(db_index=True, verbose_name='time')),
                            ('booking', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='appointments.booking', verbose_name='booking')),
                            ('clerk', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to=settings.AUTH_USER_MODEL, verbose_name='clerk')),
                            ('office', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='offices.office', verbose_name='office')),
                            ('resident', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='registration.resident', verbose_name='resident')),
                        ],
                        options={
                            'verbose_name': 'audit entry',
                            'verbose_name_plural': 'audit entries',
                            'db_table': 'appointments_auditentry',
                            'ordering': ['-at', '-id'],
                            'constraints': [models.CheckConstraint(condition=models.Q(('action__in', ['reveal_id', 'search', 'check_in', 'no_show', 'inspection', 'registration', 'queue', 'refused', 'plate_void', 'clerks', 'release', 'release_schedule'])), name='audit_action_valid')],
                        },
                    ),
                    migrations.CreateModel(
                        name='PlateNumber',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('number', models.CharField(max_length=16, unique=True, verbose_name='plate number')),
                            ('status', models.CharField(choices=[('available', 'available'), ('issued', 'issued'), ('voided', 'voided (damaged or lost)')], default='available', max_length=10, verbose_name='status')),
                            ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                            ('loaded_at', models.DateTimeField(verbose_name='loaded at')),
                            ('changed_at', models.DateTimeField(blank=True, null=True, verbose_name='changed at')),
                            ('office', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='plate_stock', to='offices.office', verbose_name='office')),
                        ],
                        options={
                            'verbose_name': 'plate in stock',
                            'verbose_name_plural': 'plate stock',
                            'db_table': 'registration_platenumber',
                            'ordering': ['office', 'number'],
                            'indexes': [models.Index(fields=['office', 'status'], name='plate_stock_office_status')],
                            'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['available', 'issued', 'voided'])), name='plate_stock_status_valid')],
                        },
                    ),
                    migrations.CreateModel(
                        name='PlateRegistration',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('plate_number', models.CharField(max_length=16, unique=True, verbose_name='plate number')),
                            ('channel', models.CharField(choices=[('online', 'online booking'), ('priority_walkin', 'priority walk-in'), ('walkin_window', 'walk-in window')], max_length=20, verbose_name='channel')),
                            ('registered_at', models.DateTimeField(verbose_name='registered at')),
                            ('booking', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='registration', to='appointments.booking', verbose_name='booking')),
                            ('clerk', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='registrations_done', to=settings.AUTH_USER_MODEL, verbose_name='clerk')),
                            ('ebike', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='plate', to='registration.ebike', verbose_name='e-bike')),
                            ('office', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='registrations', to='offices.office', verbose_name='office')),
                        ],
                        options={
                            'verbose_name': 'plate registration',
                            'verbose_name_plural': 'plate registrations',
                            'db_table': 'registration_plateregistration',
                            'ordering': ['-registered_at'],
                            'constraints': [models.CheckConstraint(condition=models.Q(('plate_number', ''), _negated=True), name='plate_number_not_empty'), models.CheckConstraint(condition=models.Q(('channel__in', ['online', 'priority_walkin', 'walkin_window'])), name='plate_registration_channel_valid')],
                        },
                    ),
                    migrations.CreateModel(
                        name='QueueTicket',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('date', models.DateField(verbose_name='date')),
                            ('number', models.PositiveIntegerField(verbose_name='number')),
                            ('status', models.CharField(choices=[('waiting', 'waiting'), ('called', 'called'), ('served', 'served'), ('skipped', 'skipped')], default='waiting', max_length=10, verbose_name='status')),
                            ('issued_at', models.DateTimeField(verbose_name='issued at')),
                            ('called_at', models.DateTimeField(blank=True, null=True, verbose_name='called at')),
                            ('served_at', models.DateTimeField(blank=True, null=True, verbose_name='served at')),
                            ('booking', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ticket', to='appointments.booking', verbose_name='booking')),
                            ('office', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='tickets', to='offices.office', verbose_name='office')),
                        ],
                        options={
                            'verbose_name': 'queue ticket',
                            'verbose_name_plural': 'queue tickets',
                            'db_table': 'appointments_queueticket',
                            'ordering': ['date', 'office', 'number'],
                            'constraints': [models.UniqueConstraint(fields=('office', 'date', 'number'), name='one_ticket_number'), models.CheckConstraint(condition=models.Q(('status__in', ['waiting', 'called', 'served', 'skipped'])), name='ticket_status_valid')],
                        },
                    ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
