"""Least privilege in the admin: who may make whom staff, superuser or a clerk, and which
records the admin only reads. Crafted posts are tested, not only what the forms show."""

import datetime
import logging

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from counter.models import AuditEntry, PlateNumber, PlateRegistration
from registration.models import EBike, Resident, User
from supervision import services as supervision_services
from tests.personas import signed_in, totp_authenticator
from tests.supervision.test_admin import office_form


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def security_events():
    collect = Collect()
    logging.getLogger("security").addHandler(collect)  # it does not propagate to the root
    yield collect.records
    logging.getLogger("security").removeHandler(collect)


def perm(name: str) -> Permission:
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def make_staff(db):
    def make(email: str, *perms: str) -> User:
        user = User.objects.create_user(email=email, is_staff=True)
        user.user_permissions.add(*(perm(p) for p in perms))
        return user

    return make


def user_form(user: User, **overrides) -> dict:
    data = {
        "email": user.email or "",
        "phone": user.phone or "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2030-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(overrides)
    return data


def change_url(user: User) -> str:
    return reverse("admin:registration_user_change", args=[user.pk])


# --- Staff, superuser, groups and permissions ------------------------------------------


def test_staff_with_change_user_cannot_make_itself_superuser(make_staff):
    staff = make_staff(
        "staff4@test.example.org", "registration.change_user", "registration.view_user"
    )
    client = signed_in(staff)
    page = client.get(change_url(staff))
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.content.decode()  # shown, not editable
    response = client.post(
        change_url(staff),
        user_form(
            staff,
            is_staff="on",
            is_superuser="on",
            user_permissions=[perm("offices.view_office").pk],
        ),
    )
    assert response.status_code == 403
    staff.refresh_from_db()
    assert (staff.is_staff, staff.is_superuser) == (True, False)
    assert set(staff.user_permissions.values_list("codename", flat=True)) == {
        "change_user",
        "view_user",
    }
    assert client.get(reverse("admin:appointments_booking_statistics")).status_code == 403


def test_staff_with_change_user_edits_a_residents_contact_but_never_its_privileges(
    make_staff, resident
):
    staff = make_staff(
        "staff@test.example.org", "registration.change_user", "registration.view_user"
    )
    group = Group.objects.create(name="supervisors")
    group.permissions.add(perm("offices.change_office"))
    crafted = user_form(
        resident,
        email="li.lei@example.org",
        is_staff="on",
        is_superuser="on",
        groups=[group.pk],
        user_permissions=[perm("registration.change_user").pk],
    )
    response = signed_in(staff).post(change_url(resident), crafted)
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.email == "li.lei@example.org"  # the harmless field was saved
    assert (resident.is_staff, resident.is_superuser) == (False, False)
    assert not resident.groups.exists() and not resident.user_permissions.exists()
    assert not AuditEntry.objects.filter(action="permissions").exists()


def test_staff_without_superuser_status_cannot_change_another_staff_account(make_staff):
    staff = make_staff(
        "staff@test.example.org", "registration.change_user", "registration.view_user"
    )
    other = make_staff("other@test.example.org")
    response = signed_in(staff).post(change_url(other), user_form(other, email="mine@example.org"))
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.email == "other@test.example.org"  # no taking over an admin by its e-mail


def test_a_superuser_grants_permissions_on_the_record(
    admin_user, admin_client, stranger, security_events
):
    group = Group.objects.create(name="supervisors")
    office_perm = perm("offices.view_office")
    response = admin_client.post(
        change_url(stranger),
        user_form(stranger, is_staff="on", groups=[group.pk], user_permissions=[office_perm.pk]),
    )
    assert response.status_code == 302
    stranger.refresh_from_db()
    assert stranger.is_staff and not stranger.is_superuser
    assert list(stranger.groups.all()) == [group]
    assert list(stranger.user_permissions.all()) == [office_perm]
    entries = AuditEntry.objects.filter(action="permissions").order_by("pk")
    assert [(e.clerk, e.office, e.detail_code, e.detail_params) for e in entries] == [
        (admin_user, None, "staff_granted", {"user": stranger.pk, "name": str(stranger)}),
        (
            admin_user,
            None,
            "group_joined",
            {"user": stranger.pk, "name": str(stranger), "group": "supervisors"},
        ),
        (
            admin_user,
            None,
            "permission_granted",
            {"user": stranger.pk, "name": str(stranger), "permission": "offices.view_office"},
        ),
    ]
    events = [r.security for r in security_events if r.security["event"] == "permission_changed"]
    assert [(e["event"], e["change"], e["target"], e["user"]) for e in events] == [
        ("permission_changed", "staff_granted", stranger.pk, admin_user.pk),
        ("permission_changed", "group_joined", stranger.pk, admin_user.pk),
        ("permission_changed", "permission_granted", stranger.pk, admin_user.pk),
    ]
    log = admin_client.get(reverse("admin:counter_auditentry_log") + "?action=permissions")
    text = log.content.decode()
    assert "staff status given to stranger@test.example.org" in text
    assert "permission offices.view_office given to stranger@test.example.org" in text
    chinese = signed_in(admin_user, language=None).get(
        reverse("admin:counter_auditentry_log") + "?action=permissions"
    )
    assert "授予 stranger@test.example.org 工作人员身份" in chinese.content.decode()

    # Taking them away again is on the record too.
    response = admin_client.post(change_url(stranger), user_form(stranger))
    assert response.status_code == 302
    stranger.refresh_from_db()
    assert not stranger.is_staff and not stranger.user_permissions.exists()
    codes = list(
        AuditEntry.objects.filter(action="permissions")
        .order_by("pk")
        .values_list("detail_code", flat=True)
    )
    assert codes[3:] == ["staff_removed", "group_left", "permission_removed"]


def test_a_superuser_cannot_change_their_own_privileges(admin_user, admin_client):
    page = admin_client.get(change_url(admin_user)).content.decode()
    assert 'name="is_superuser"' not in page and 'name="is_staff"' not in page
    response = admin_client.post(change_url(admin_user), user_form(admin_user))  # all unticked
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert (admin_user.is_staff, admin_user.is_superuser, admin_user.is_active) == (
        True,
        True,
        True,
    )
    assert not AuditEntry.objects.filter(action="permissions").exists()


def test_the_service_refuses_a_non_superuser_and_ones_own_account(make_staff, admin_user):
    staff = make_staff("staff@test.example.org", "registration.change_user")
    target = make_staff("target@test.example.org")
    for actor, user, change in [
        (staff, target, {"is_superuser": True}),
        (staff, staff, {"is_superuser": True}),
        (staff, target, {"permissions": [perm("registration.change_user")]}),
        (admin_user, admin_user, {"is_staff": False}),
        (admin_user, admin_user, {"is_superuser": False}),
    ]:
        with pytest.raises(supervision_services.PrivilegeRefused):
            supervision_services.user_privileges_set(user=user, actor=actor, **change)
    assert not User.objects.filter(is_superuser=True).exclude(pk=admin_user.pk).exists()
    admin_user.refresh_from_db()
    assert admin_user.is_staff
    assert not AuditEntry.objects.exists()


def test_only_superusers_delete_accounts(make_staff, resident):
    staff = make_staff(
        "staff@test.example.org", "registration.delete_user", "registration.view_user"
    )
    url = reverse("admin:registration_user_delete", args=[resident.pk])
    assert signed_in(staff).post(url, {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=resident.pk).exists()


def test_groups_are_for_superusers_only(make_staff, admin_user, admin_client):
    staff = make_staff(
        "staff@test.example.org",
        "auth.view_group",
        "auth.add_group",
        "auth.change_group",
        "auth.delete_group",
    )
    client = signed_in(staff)
    group = Group.objects.create(name="clerks")
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    crafted = {"name": "clerks", "permissions": [perm("registration.change_user").pk]}
    change = reverse("admin:auth_group_change", args=[group.pk])
    assert client.post(change, crafted).status_code == 403
    assert client.post(reverse("admin:auth_group_add"), {"name": "mine"}).status_code == 403
    assert not group.permissions.exists() and not Group.objects.filter(name="mine").exists()

    response = admin_client.post(change, crafted)
    assert response.status_code == 302
    assert list(group.permissions.all()) == [perm("registration.change_user")]
    entry = AuditEntry.objects.get(action="permissions")
    assert (entry.clerk, entry.detail_code, entry.detail_params) == (
        admin_user,
        "group_permission_granted",
        {"group": "clerks", "permission": "registration.change_user"},
    )


# --- Clerk assignment ------------------------------------------------------------------


def test_staff_with_change_office_cannot_make_itself_a_clerk(make_staff, office_a, resident):
    staff = make_staff("staff5@test.example.org", "offices.view_office", "offices.change_office")
    client = signed_in(staff)
    url = reverse("admin:offices_office_change", args=[office_a.pk])
    assert 'name="clerks"' not in client.get(url).content.decode()
    response = client.post(url, office_form(office_a, name="Renamed", clerks=[staff.pk]))
    assert response.status_code == 302  # the office is saved, the clerks are not its to set
    office_a.refresh_from_db()
    assert office_a.name == "Renamed"
    assert not office_a.clerks.filter(pk=staff.pk).exists()
    assert client.get("/counter/").status_code == 403
    assert client.get(f"/counter/{office_a.code}/").status_code == 403
    assert not AuditEntry.objects.filter(action="clerks").exists()


@pytest.mark.parametrize("superuser", [False, True])
def test_nobody_assigns_themselves_as_a_clerk(make_staff, office_a, admin_user, superuser):
    if superuser:
        user = admin_user
    else:
        user = make_staff(
            "assigner@test.example.org",
            "offices.view_office",
            "offices.change_office",
            "offices.assign_clerks",
        )
    url = reverse("admin:offices_office_change", args=[office_a.pk])
    response = signed_in(user).post(url, office_form(office_a, clerks=[user.pk]))
    assert response.status_code == 200
    assert "You cannot make yourself a clerk" in response.content.decode()
    assert not office_a.clerks.filter(pk=user.pk).exists()
    with pytest.raises(supervision_services.PrivilegeRefused):
        supervision_services.office_clerks_set(office=office_a, clerks=[user], user=user)
    assert not office_a.clerks.filter(pk=user.pk).exists()


def test_assign_clerks_permission_assigns_others_on_the_record(
    make_staff, office_a, stranger, security_events
):
    assigner = make_staff(
        "assigner@test.example.org",
        "offices.view_office",
        "offices.change_office",
        "offices.assign_clerks",
    )
    url = reverse("admin:offices_office_change", args=[office_a.pk])
    response = signed_in(assigner).post(url, office_form(office_a, clerks=[stranger.pk]))
    assert response.status_code == 302
    assert list(office_a.clerks.all()) == [stranger]
    entry = AuditEntry.objects.get(action="clerks")
    assert (entry.clerk, entry.office, entry.detail_code, entry.detail_params["user"]) == (
        assigner,
        office_a,
        "clerk_added",
        stranger.pk,
    )
    [event] = [r.security for r in security_events if r.security["event"] == "permission_changed"]
    assert (event["event"], event["change"], event["target"], event["office"]) == (
        "permission_changed",
        "clerk_added",
        stranger.pk,
        office_a.pk,
    )
    assert signed_in(stranger).get("/counter/").status_code == 302


def test_the_service_refuses_clerk_assignment_without_the_permission(
    make_staff, office_a, stranger
):
    staff = make_staff("staff@test.example.org", "offices.change_office")
    with pytest.raises(supervision_services.PrivilegeRefused):
        supervision_services.office_clerks_set(office=office_a, clerks=[stranger], user=staff)
    assert not office_a.clerks.exists()


# --- Records written by services: read-only --------------------------------------------


@pytest.fixture
def plated(office_a, resident):
    """A plate issued (as plate_issue would record it) and another still in stock."""
    ebike = resident.resident.ebikes.get()
    now = datetime.datetime(2030, 1, 7, 10, tzinfo=datetime.UTC)
    PlateNumber.objects.create(number="营口A00001", office=office_a, status="issued", loaded_at=now)
    PlateNumber.objects.create(number="营口A00002", office=office_a, loaded_at=now)
    return PlateRegistration.objects.create(
        plate_number="营口A00001", ebike=ebike, office=office_a, channel="online", registered_at=now
    )


def test_a_plate_registration_cannot_be_added_or_rewritten_in_the_admin(
    admin_client, plated, office_a, resident
):
    other_bike = EBike.objects.create(
        resident=resident.resident, frame_number="FRAME999999", brand="Aima"
    )
    add = admin_client.post(
        reverse("admin:counter_plateregistration_add"),
        {
            "plate_number": "营口Z99999",  # not in any office's stock
            "ebike": other_bike.pk,
            "office": office_a.pk,
            "channel": "online",
            "registered_at_0": "2020-01-01",
            "registered_at_1": "00:00:00",
        },
    )
    assert add.status_code == 403
    assert not PlateRegistration.objects.filter(plate_number="营口Z99999").exists()
    change_url = reverse("admin:counter_plateregistration_change", args=[plated.pk])
    assert admin_client.get(change_url).status_code == 200  # read, as a record
    change = admin_client.post(
        change_url,
        {
            "plate_number": "营口Z99999",
            "ebike": plated.ebike_id,
            "office": office_a.pk,
            "channel": "online",
            "registered_at_0": "2020-01-01",
            "registered_at_1": "00:00:00",
        },
    )
    assert change.status_code == 403
    plated.refresh_from_db()
    assert plated.plate_number == "营口A00001" and plated.registered_at.year == 2030
    assert AuditEntry.objects.count() == 0


def test_residents_and_e_bikes_are_read_only_in_the_admin(admin_client, resident):
    person = resident.resident
    ebike = person.ebikes.get()
    other = User.objects.create_user(email="other@test.example.org")
    response = admin_client.post(
        reverse("admin:registration_resident_change", args=[person.pk]),
        {"user": other.pk, "real_name": "Someone Else", "phone": ""},
    )
    assert response.status_code == 403
    person.refresh_from_db()
    assert (person.user, person.real_name) == (resident, "Li Lei")
    assert admin_client.post(reverse("admin:registration_resident_add"), {}).status_code == 403
    response = admin_client.post(
        reverse("admin:registration_ebike_change", args=[ebike.pk]),
        {"resident": person.pk, "frame_number": "CHANGED01", "brand": "X"},
    )
    assert response.status_code == 403
    ebike.refresh_from_db()
    assert ebike.frame_number == "FRAME000001"
    assert Resident.objects.count() == 1


@pytest.mark.parametrize(
    "name",
    [
        "counter_plateregistration",
        "registration_resident",
        "registration_ebike",
    ],
)
def test_service_records_have_no_add_page(admin_client, name):
    assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 403


def test_plate_stock_is_voided_through_the_service_only(admin_client, plated, office_a):
    plate = PlateNumber.objects.get(number="营口A00002")
    response = admin_client.post(
        reverse("admin:counter_platenumber_change", args=[plate.pk]),
        {"note": "rewritten", "status": "issued"},
    )
    assert response.status_code == 403
    plate.refresh_from_db()
    assert (plate.status, plate.note) == ("available", "")
    response = admin_client.post(
        reverse("admin:counter_platenumber_changelist"),
        {"action": "void_lost", "_selected_action": [plate.pk]},
    )
    assert response.status_code == 302
    plate.refresh_from_db()
    assert plate.status == "voided"
    assert AuditEntry.objects.get().detail_params == {"plate": "营口A00002", "reason": "lost"}


def test_staff_cannot_take_over_an_admin_through_its_e_mail_address(make_staff, admin_user):
    from allauth.account.models import EmailAddress

    staff = make_staff(
        "staff@test.example.org",
        "account.view_emailaddress",
        "account.add_emailaddress",
        "account.change_emailaddress",
    )
    address = EmailAddress.objects.create(
        user=admin_user, email=admin_user.email, primary=True, verified=True
    )
    client = signed_in(staff)
    crafted = {
        "user": admin_user.pk,
        "email": "mine@evil.example",
        "primary": "on",
        "verified": "on",
    }
    change = reverse("admin:account_emailaddress_change", args=[address.pk])
    assert client.post(change, crafted).status_code == 403
    added = {"user": admin_user.pk, "email": "mine@evil.example", "verified": "on"}
    assert client.post(reverse("admin:account_emailaddress_add"), added).status_code == 403
    address.refresh_from_db()
    assert address.email == "admin@test.example.org"
    assert not EmailAddress.objects.filter(email="mine@evil.example").exists()


def test_only_superusers_set_someone_elses_password(
    make_staff, resident, admin_client, security_events
):
    staff = make_staff(
        "staff@test.example.org", "registration.change_user", "registration.view_user"
    )
    url = reverse("admin:auth_user_password_change", args=[resident.pk])
    data = {
        "password1": "a-new-Pass-2031",
        "password2": "a-new-Pass-2031",
        "usable_password": "true",
    }
    assert signed_in(staff).post(url, data).status_code == 403
    resident.refresh_from_db()
    assert not resident.check_password("a-new-Pass-2031")
    assert admin_client.post(url, data).status_code == 302
    resident.refresh_from_db()
    assert resident.check_password("a-new-Pass-2031")
    assert [
        r.security["target"] for r in security_events if r.security["event"] == "password_set"
    ] == [resident.pk]


# --- Second factors in the admin ------------------------------------------------------


def test_staff_with_authenticator_permissions_cannot_remove_an_admins_second_factor(
    make_staff, admin_user
):
    authenticator = totp_authenticator(admin_user)
    staff = make_staff(
        "mfa-staff@test.example.org",
        "mfa.view_authenticator",
        "mfa.change_authenticator",
        "mfa.delete_authenticator",
    )
    client = signed_in(staff)
    delete = reverse("admin:mfa_authenticator_delete", args=[authenticator.pk])
    assert client.get(reverse("admin:mfa_authenticator_changelist")).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Authenticator.objects.filter(pk=authenticator.pk).exists()


def test_a_superuser_deletes_a_lost_second_factor_but_never_sees_its_secret(
    admin_user, stranger, security_events
):
    lost = totp_authenticator(stranger)
    client = signed_in(admin_user)
    page = client.get(reverse("admin:mfa_authenticator_change", args=[lost.pk])).content.decode()
    assert "secret" not in page.lower() and str(lost.data) not in page
    response = client.post(
        reverse("admin:mfa_authenticator_delete", args=[lost.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=lost.pk).exists()
    [event] = [
        r.security for r in security_events if r.security["event"] == "mfa_authenticator_removed"
    ]
    assert (event["owner"], event["user"], event["by"]) == (stranger.pk, admin_user.pk, "admin")
