from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("appointments", "0009_audit_detail_text_to_codes")]

    operations = [migrations.RemoveField(model_name="auditentry", name="detail")]
