"""django-allauth adapter: phone numbers live on our User, SMS goes through registration.sms."""

import contextlib
import logging

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import cache as cache_backend
from core.security import client_address

from . import sms, sms_budget
from .forms import ChineseMobileField
from .idnumber import normalize_mobile
from .models import User

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        # Every allauth limit "per ip" counts this address: behind the proxy, the client's
        # own (TRUSTED_PROXY_COUNT), not the proxy's, which every resident would share.
        return client_address(request)

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials) -> str:
        # allauth keys failed logins on the e-mail or username; a phone login has neither,
        # so every phone login would share one counter (and one lock-out).
        if phone := credentials.get("phone"):
            with contextlib.suppress(ValidationError):  # counted under what was typed
                phone = normalize_mobile(phone)
            return f"phone:{phone}"
        return super()._get_login_attempts_cache_key(request, **credentials)

    def phone_form_field(self, **kwargs):
        return ChineseMobileField(**kwargs)

    def clean_phone(self, phone: str) -> str:
        return normalize_mobile(phone)

    def save_user(self, request, user, form, commit=True):
        # Our User needs a phone or an e-mail before its first save; allauth would
        # only attach the phone afterwards through set_phone().
        if phone := form.cleaned_data.get("phone"):
            user.phone = phone
        return super().save_user(request, user, form, commit=commit)

    def set_phone(self, user: User, phone: str, verified: bool) -> None:
        user.phone = phone
        user.phone_verified = verified
        if user.pk:
            user.save(update_fields=["phone", "phone_verified"])

    def get_phone(self, user: User) -> tuple[str, bool] | None:
        return (user.phone, user.phone_verified) if user.phone else None

    def set_phone_verified(self, user: User, phone: str) -> None:
        # Also the end of a phone change: the new number becomes the login, verified.
        self.set_phone(user, phone, True)

    def get_user_by_phone(self, phone: str) -> User | None:
        try:
            phone = normalize_mobile(phone)
        except Exception:  # noqa: BLE001 - an unparsable number matches nobody
            return None
        return User.objects.filter(phone=phone, is_active=True).first()

    def _send(self, phone: str, text: str | None) -> None:
        """Send, or tell the person the SMS could not leave (never a server error).

        Sent here, in the request, with a short timeout of its own rather than through
        the outbox and Celery: the person is waiting for the code now, it must arrive
        with Redis (the broker) down, and a failure is told at once so they can ask
        again; a late code after a retry is harmless (the newest one counts).
        """
        if not cache_backend.available():
            # allauth's limits on text messages (per number and per address) live in the
            # cache: without it they cannot be counted, so none is sent (fail closed).
            logger.error("SMS not sent: the cache that rate-limits it is unavailable")
            if self.request is not None:
                messages.error(
                    self.request,
                    _(
                        "Text messages cannot be sent just now. Please try again in a few "
                        "minutes, or sign in with your e-mail address and password."
                    ),
                )
            return
        # Raises BudgetExceeded (the 429 page) when a budget is spent; counted whether or
        # not a text leaves, so the answer is the same for a number without an account.
        sms_budget.sms_budget_consume(phone=phone, request=self.request, sends=text is not None)
        if text is None:
            return
        try:
            sms.send_sms(phone, text, timeout=settings.SMS_LOGIN_TIMEOUT_SECONDS)
        except sms.SmsError as exc:
            logger.error("SMS not sent: %s", exc)
            if self.request is not None:
                messages.error(
                    self.request,
                    _("The text message could not be sent just now. Please try again later."),
                )

    def send_verification_code_sms(self, user, phone: str, code: str, **kwargs) -> None:
        # allauth passes ``reauthentication`` only for login codes; a phone verification
        # (sign-up, new number) has a lifetime of its own.
        if "reauthentication" in kwargs:
            lifetime = allauth_settings.LOGIN_BY_CODE_TIMEOUT
        else:
            lifetime = allauth_settings.PHONE_VERIFICATION_TIMEOUT
        self._send(phone, verification_sms_text(code, lifetime))

    def send_unknown_account_sms(self, phone: str, **kwargs) -> None:
        # Nothing is sent to a number without an account (each text costs money, and
        # anyone can type any number); the page says "code sent" either way and the
        # budgets count the request as if it were sent.
        self._send(phone, None)

    def send_account_already_exists_sms(self, phone: str) -> None:
        self._send(
            phone,
            _(
                "Someone tried to sign up to e-bike registration with this number, "
                "which already has an account. Sign in with it instead."
            ),
        )


def verification_sms_text(code: str, lifetime_seconds: int) -> str:
    """The text of a code SMS; the lifetime it states is the code's real one (rounded
    down to whole minutes, so it never promises more)."""
    minutes = max(1, lifetime_seconds // 60)
    return ngettext(
        "Your e-bike registration verification code is %(code)s. It expires in %(minutes)d minute.",
        "Your e-bike registration verification code is %(code)s. "
        "It expires in %(minutes)d minutes.",
        minutes,
    ) % {"code": code, "minutes": minutes}
