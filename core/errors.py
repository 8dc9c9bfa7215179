"""One idiom for a refusal the rules make: a ``DomainError`` with a code and a message.

The message is translated and written for the person who asked (a resident, a clerk, an
admin); ``code`` says why in a stable, untranslated word, for the audit log, statistics and
tests. Each area subclasses it with errors named for the cause (``SlotFull``,
``BelowWeeklyFloor``); views and the admin turn any of them into a message.
``ValidationError`` stays in forms.
"""

from django.core.exceptions import ValidationError


class DomainError(Exception):
    code = "other"

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    @classmethod
    def from_validation(cls, exc: ValidationError) -> "DomainError":
        """The same refusal from a validator that speaks ``ValidationError`` (a form's
        field, the ID-number checks): its first message and code."""
        codes = [error.code for error in exc.error_list if error.code]
        return cls(exc.messages[0], code=codes[0] if codes else None)
