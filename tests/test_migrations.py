"""Migrating a database of the layout before the counter app (appointments 0013,
registration 0003) to the head keeps every row of the moved tables, their links, and the
permissions granted on them."""

import datetime
import zoneinfo

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from appointments.models import Booking
from counter.models import AuditEntry, Inspection, PlateNumber, PlateRegistration, QueueTicket

BEFORE = [
    ("offices", "0004_planned_changes"),
    ("appointments", "0013_release_reconcile_schedule"),
    ("registration", "0003_clear_expired_sessions_schedule"),
    ("counter", None),  # unapplies appointments 0014 and registration 0004 with it
]
AT = datetime.datetime(2030, 1, 7, 9, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets).apps


def populate(apps) -> dict:
    """Rows as the old layout wrote them, through its historical models."""
    office = apps.get_model("offices", "Office").objects.create(
        code="old-office", name="Old office", address="Test road 1", district="Test"
    )
    user = apps.get_model("registration", "User").objects.create(email="clerk@example.test")
    resident = apps.get_model("registration", "Resident").objects.create(
        real_name="Test Resident",
        id_hash="h" * 64,
        id_encrypted="x",
        id_masked="1101**********0011",
        birth_date=datetime.date(1985, 3, 15),
    )
    ebike = apps.get_model("registration", "EBike").objects.create(
        resident=resident, frame_number="LFRAMEOLD0001", brand="Test"
    )
    booking = apps.get_model("appointments", "Booking").objects.create(
        code="OLDBOOKING", resident=resident, ebike=ebike, office=office, date=AT.date(),
        source="priority_walkin", walkin_reason="senior", status="completed",
        created_at=AT, checked_in_at=AT, completed_at=AT,
    )  # fmt: skip
    audit = apps.get_model("appointments", "AuditEntry").objects.create(
        clerk=user, office=office, action="registration", booking=booking, resident=resident,
        detail_code="plate_issued", detail_params={"plate": "营口A00001"}, at=AT,
    )  # fmt: skip
    inspection = apps.get_model("appointments", "Inspection").objects.create(
        booking=booking, clerk=user, failed_items=[], at=AT
    )
    ticket = apps.get_model("appointments", "QueueTicket").objects.create(
        office=office, date=AT.date(), number=7, status="waiting", issued_at=AT
    )
    plate = apps.get_model("registration", "PlateNumber").objects.create(
        number="营口A00001", office=office, status="issued", loaded_at=AT, changed_at=AT
    )
    registration = apps.get_model("registration", "PlateRegistration").objects.create(
        plate_number="营口A00001", ebike=ebike, office=office, clerk=user, booking=booking,
        channel="priority_walkin", registered_at=AT,
    )  # fmt: skip
    # A supervisors' group allowed to read the audit log, as granted before the move.
    old_type = ContentType.objects.get_or_create(app_label="appointments", model="auditentry")[0]
    permission = apps.get_model("auth", "Permission").objects.get_or_create(
        content_type_id=old_type.pk, codename="view_auditentry", defaults={"name": "Can view"}
    )[0]
    group = apps.get_model("auth", "Group").objects.create(name="supervisors")
    group.permissions.add(permission)
    return {
        "booking": booking.pk,
        "audit": audit.pk,
        "inspection": inspection.pk,
        "ticket": ticket.pk,
        "plate": plate.pk,
        "registration": registration.pk,
        "user": user.pk,
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_migrates_to_the_head_with_its_rows():
    old_apps = migrate(BEFORE)
    ids = populate(old_apps)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    booking = Booking.objects.get(pk=ids["booking"])
    audit = AuditEntry.objects.get(pk=ids["audit"])
    assert (audit.booking, audit.resident, audit.office) == (
        booking,
        booking.resident,
        booking.office,
    )
    assert (audit.action, audit.detail_params, audit.at) == (
        "registration",
        {"plate": "营口A00001"},
        AT,
    )
    assert Inspection.objects.get(pk=ids["inspection"]).booking == booking
    assert booking.inspections.get().passed
    ticket = QueueTicket.objects.get(pk=ids["ticket"])
    assert (ticket.office, ticket.number, ticket.status) == (booking.office, 7, "waiting")
    assert PlateNumber.objects.get(pk=ids["plate"]).status == PlateNumber.Status.ISSUED
    registration = PlateRegistration.objects.get(pk=ids["registration"])
    assert (registration.booking, registration.ebike) == (booking, booking.ebike)
    assert booking.ebike.plate == registration  # the reverse name the pages use
    assert booking.registration == registration
    # The tables kept their names; the content types followed the models.
    assert AuditEntry._meta.db_table == "appointments_auditentry"
    assert not ContentType.objects.filter(app_label="appointments", model="auditentry").exists()
    user = audit.clerk
    user.groups.add(Group.objects.get(name="supervisors"))
    assert type(user).objects.get(pk=user.pk).has_perm("counter.view_auditentry")
    # New rows go into the same tables, after the old ones.
    new = AuditEntry.objects.create(clerk=user, action="search", at=AT)
    assert new.pk > ids["audit"]
