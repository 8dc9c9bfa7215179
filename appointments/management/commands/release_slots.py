import datetime

from django.core.management.base import BaseCommand, CommandError

from appointments import services


class Command(BaseCommand):
    help = "Release one day's slots for every active office (safe to run twice)."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Local date, YYYY-MM-DD")

    def handle(self, *args, **options):
        raw = options["date"]
        try:
            day = datetime.date.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--date must be a real date as YYYY-MM-DD, got {raw!r}") from None
        if len(raw) != 10:
            raise CommandError(f"--date must be a real date as YYYY-MM-DD, got {raw!r}")
        result = services.slots_release(day=day)
        for code, places in result.released.items():
            self.stdout.write(f"{code}: released {places} places")
        for code in result.closed:
            self.stdout.write(f"{code}: closed, nothing released")
        for code in result.already:
            self.stdout.write(f"{code}: already released")
        self.stdout.write(self.style.SUCCESS(f"{day.isoformat()}: {result.places} places released"))
