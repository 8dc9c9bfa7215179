"""Turn the English audit details written so far into codes with parameters.

The formats are the ones the counter wrote: "by code: 1 found", "priority walk-in: senior",
"failed: invoice,numbers", "plate 营口F00001", "call #3". Anything else is kept verbatim
under the code "legacy". Nothing to undo: 0008 still has the text column when going back.
"""

import re

from django.db import migrations

PATTERNS = [
    (re.compile(r"^by (?P<kind>\w+): (?P<count>\d+) found$"), "search"),
    (re.compile(r"^priority walk-in: (?P<reason>\w+)$"), "priority_walkin"),
    (re.compile(r"^failed: (?P<items>[\w,]*)$"), "inspection_failed"),
    (re.compile(r"^plate (?P<plate>\S+)$"), "plate_issued"),
    (re.compile(r"^(?P<what>call|recall|skip|serve) #(?P<number>\d+)$"), "ticket"),
]


def detail_to_code(text: str) -> tuple[str, dict]:
    text = (text or "").strip()
    if not text:
        return "", {}
    for pattern, code in PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        params = match.groupdict()
        if code == "search":
            return code, {"kind": params["kind"], "count": int(params["count"])}
        if code == "inspection_failed":
            return code, {"items": [i for i in params["items"].split(",") if i]}
        if code == "ticket":
            return f"ticket_{params['what']}", {"number": int(params["number"])}
        return code, params
    return "legacy", {"text": text}


def forwards(apps, schema_editor):
    AuditEntry = apps.get_model("appointments", "AuditEntry")
    rows = AuditEntry.objects.exclude(detail="").only("pk", "detail")
    batch = []
    for entry in rows.iterator(chunk_size=2000):
        entry.detail_code, entry.detail_params = detail_to_code(entry.detail)
        batch.append(entry)
        if len(batch) >= 2000:
            AuditEntry.objects.bulk_update(batch, ["detail_code", "detail_params"])
            batch = []
    if batch:
        AuditEntry.objects.bulk_update(batch, ["detail_code", "detail_params"])


class Migration(migrations.Migration):
    dependencies = [("appointments", "0008_audit_detail_codes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
