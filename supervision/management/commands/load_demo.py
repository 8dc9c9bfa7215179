import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from appointments import services as booking_services
from counter import services as counter_services
from offices import demo
from offices import services as office_services
from offices.models import Office
from registration import services as registration_services
from registration.idnumber import check_character
from registration.models import EBike, User

from ... import services as supervision_services


class Command(BaseCommand):
    help = "Create fictional demo offices and accounts (idempotent), then release coming days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=3, help="Release today and this many days ahead."
        )

    def handle(self, *args, **options):
        if not settings.DEMO_DATA_ALLOWED:
            # The demo accounts' password is published (README, offices/demo.py).
            raise CommandError(
                "load_demo is refused under these settings (DEMO_DATA_ALLOWED is false, as in "
                "production): it would create a superuser with a published password."
            )
        with transaction.atomic():
            for spec in demo.DEMO_OFFICES:
                self._office({**demo.MAIN_URBAN_DEFAULTS, **spec})
            vao = self._office(dict(demo.DEMO_VAO))
            admin = self._user(demo.DEMO_ACCOUNTS["admin"], is_staff=True, is_superuser=True)
            clerk = self._user(demo.DEMO_ACCOUNTS["clerk"])
            for staff in (admin, clerk):  # staff sign in with a second factor
                demo.demo_totp_ensure(staff)
            resident_user = self._user(
                demo.DEMO_ACCOUNTS["resident"],
                phone=demo.DEMO_RESIDENT["phone"],
                phone_verified=True,
            )
            first = Office.objects.get(code=demo.DEMO_OFFICES[0]["code"])
            for office in (first, vao):
                if not office.clerks.filter(pk=clerk.pk).exists():
                    supervision_services.office_clerks_set(
                        office=office, clerks=[*office.clerks.all(), clerk], user=admin
                    )
            self._resident(resident_user)
            # Fictional plate stock: one letter per office, 100 plates each.
            for letter, office in zip("ABCDEFGHJK", Office.objects.order_by("code"), strict=False):
                if not office.plate_stock.exists():
                    counter_services.plate_stock_load(
                        office=office, prefix=f"营口{letter}", first=1, last=100
                    )

        today = timezone.localdate()
        for offset in range(options["days"] + 1):
            result = booking_services.slots_release(day=today + datetime.timedelta(days=offset))
            self.stdout.write(f"{result.date}: {result.places} places released")

        self.stdout.write(self.style.SUCCESS("Demo data ready. Demo logins (fictional):"))
        for role, email in demo.DEMO_ACCOUNTS.items():
            self.stdout.write(f"  {role:9} {email} / {demo.DEMO_PASSWORD}")
        self.stdout.write(f"  admin site: /admin/ (as {admin.email})")
        self.stdout.write(f"  counter:    /counter/ (as {clerk.email})")
        self.stdout.write(
            "  staff also enter the authenticator code: manage.py demo_code prints it"
        )

    def _office(self, spec: dict) -> Office:
        # Created once; later runs leave an admin's edits to the demo offices alone.
        office = Office.objects.filter(code=spec["code"]).first()
        if office is None:
            office = office_services.office_add(office=Office(**spec), windows=demo.DEMO_WINDOWS)
        return office

    def _user(self, email: str, **extra) -> User:
        user, _created = registration_services.account_ensure(
            email=email, password=demo.DEMO_PASSWORD, **extra
        )
        return user

    def _resident(self, user: User) -> None:
        if hasattr(user, "resident"):
            return
        first17 = demo.DEMO_RESIDENT["id_first17"]
        resident = registration_services.resident_create(
            user=user,
            real_name=demo.DEMO_RESIDENT["real_name"],
            id_number=first17 + check_character(first17),
            phone=demo.DEMO_RESIDENT["phone"],
        )
        if not EBike.objects.filter(frame_number=demo.DEMO_EBIKE["frame_number"]).exists():
            registration_services.ebike_add(resident=resident, **demo.DEMO_EBIKE)
