from django.core.management.base import BaseCommand, CommandError

from counter import services
from offices.models import Office


class Command(BaseCommand):
    help = "Load a range of plate numbers (prefix + 5 digits) into an office's stock."

    def add_arguments(self, parser):
        parser.add_argument("--office", required=True, help="office code")
        parser.add_argument("--prefix", required=True, help="e.g. 营口A")
        parser.add_argument("--first", type=int, required=True)
        parser.add_argument("--last", type=int, required=True)

    def handle(self, *args, **options):
        office = Office.objects.filter(code=options["office"]).first()
        if office is None:
            raise CommandError(f"no office with code {options['office']!r}")
        try:
            count = services.plate_stock_load(
                office=office,
                prefix=options["prefix"],
                first=options["first"],
                last=options["last"],
            )
        except services.PlateRefused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"{count} plates loaded for {office.code}"))
