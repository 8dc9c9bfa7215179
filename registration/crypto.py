"""Keyed hashing and encryption for resident ID numbers.

The clear number is never stored: a keyed HMAC finds a person by ID, and a Fernet
token lets the clerk serving that person see it. Keys come from settings, read at
call time so tests and key rotation can change them.
"""

import hashlib
import hmac

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def id_number_hash(number: str, *, key: str | None = None) -> str:
    """The lookup hash of an ID number under ``key`` (default: ``ID_HASH_KEY``)."""
    secret = (settings.ID_HASH_KEY if key is None else key).encode()
    return hmac.new(secret, number.strip().upper().encode(), hashlib.sha256).hexdigest()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.ID_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
