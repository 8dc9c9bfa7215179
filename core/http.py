"""Small helpers views share: reading a number from a request, the text of a refusal."""

from django.core.exceptions import ValidationError


def positive_int(value: str | None) -> int | None:
    """A positive whole number typed in ASCII digits, or None for anything else."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    number = int(value)
    return number if number > 0 else None


def refusal_text(exc: Exception) -> str:
    """The message of a refusal, from a service (a DomainError) or a ValidationError."""
    return exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
