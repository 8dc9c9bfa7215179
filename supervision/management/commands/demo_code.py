from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from offices import demo


class Command(BaseCommand):
    help = "Print the demo staff accounts' current authenticator code (the demo only)."

    def handle(self, *args, **options):
        # The demo secret is public: its codes mean something only where the demo runs.
        if not settings.DEBUG:
            raise CommandError("demo_code runs only with the demo (DEBUG=true).")
        self.stdout.write(demo.demo_totp_code())
