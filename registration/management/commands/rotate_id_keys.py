import os

from django.core.management.base import BaseCommand, CommandError

from registration import services

MIN_HASH_KEY_LENGTH = 32


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored ID number with the first key of ID_ENCRYPTION_KEYS; with "
        "--new-hash-key-from NAME also recompute the lookup hashes with the key in the "
        "environment variable NAME. Encryption keys rotate while the app runs; for a new hash "
        "key stop web, workers and beat first, and start them with ID_HASH_KEY set to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--new-hash-key-from", metavar="ENV_VAR", default=None)

    def handle(self, *args, **options):
        hash_key = None
        name = options["new_hash_key_from"]
        if name:
            hash_key = os.environ.get(name, "")
            if len(hash_key) < MIN_HASH_KEY_LENGTH:
                raise CommandError(
                    f"{name} must hold the new hash key, at least {MIN_HASH_KEY_LENGTH} characters."
                )
        count = services.id_keys_rotate(hash_key=hash_key)
        what = "re-encrypted and re-hashed" if hash_key else "re-encrypted"
        self.stdout.write(self.style.SUCCESS(f"{count} residents {what}."))
        if hash_key:
            self.stdout.write(f"Now start the app with ID_HASH_KEY set to the value of {name}.")
