"""Staff authentication: a second factor, short sessions, re-authentication.

Staff are admins (``is_staff`` or ``is_superuser``) and the clerks of any office: they see
full ID numbers and change who may do what, so their accounts need more than a password.
Residents are not affected. For a signed-in staff member, ``StaffAuthMiddleware``:

1. ends the session after ``STAFF_SESSION_IDLE_SECONDS`` without a request or
   ``STAFF_SESSION_MAX_SECONDS`` after sign-in (a ``staff_session_expired`` event);
2. without any MFA authenticator, lets them reach only the pages that set one up (the
   enrolment wall): everything else redirects to the authenticator app's activation;
3. with an authenticator but a session that never passed it (signed in before enrolling,
   or by a way that skipped the second factor), asks for it (allauth's MFA
   re-authentication) before serving anything;
4. before the sensitive actions in ``REAUTHENTICATION_REQUIRED`` asks for the second
   factor again unless it was used in the last ``ACCOUNT_REAUTHENTICATION_TIMEOUT``
   seconds. A suspended POST is replayed after it (allauth's ``suspend_request``).

Whether a session passed the second factor is read from allauth's own records of the
session's authentications (``get_authentication_records``): an ``mfa`` record exists only
after a TOTP code, a recovery code or a security key was accepted.

Security events (core.security) for staff: ``staff_login``, ``staff_login_failed``,
``login_locked_out`` (allauth's rate limit refused a login or MFA attempt; any account),
``mfa_authenticator_added`` / ``_removed`` / ``_reset`` and ``staff_session_expired``.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.login import record_authentication
from allauth.account.internal.flows.reauthentication import suspend_request
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from config.overload import _database_error, database_unavailable
from core.security import security_event
from offices.models import Office

SESSION_STARTED_KEY = "staff_session_started"
SESSION_LAST_SEEN_KEY = "staff_session_last_seen"
SESSION_CLERK_KEY = "staff_session_clerk"
# Where only staff work: whether a user is a clerk is checked afresh on every request here.
STAFF_AREAS = ("/counter/", "/admin/")


@dataclasses.dataclass(frozen=True)
class Sensitive:
    """A URL (by name) whose use asks for the second factor again. ``methods``: the HTTP
    methods that do (None: all). ``idle``: fresh also while the person was active within
    the window (a clerk serving one resident after another keeps going)."""

    url_name: str
    methods: frozenset[str] | None = None
    idle: bool = False


# The one list of actions that ask for the second factor again (docs/security.md).
REAUTHENTICATION_REQUIRED = [
    # Granting permissions, staff status or superuser status (the user model is
    # registration.User; auth_user_change would be Django's own).
    Sensitive("admin:registration_user_change"),
    Sensitive("admin:auth_user_change"),
    Sensitive("admin:registration_user_add"),
    Sensitive("admin:auth_group_change"),
    Sensitive("admin:auth_group_add"),
    # Assigning clerks to an office.
    Sensitive("admin:offices_office_change"),
    # "Release now" (and the release schedule) on the capacity overview.
    Sensitive("admin:offices_office_overview", methods=frozenset({"POST"})),
    # Moving an ID number to another account at the counter.
    Sensitive("counter_identity", methods=frozenset({"POST"})),
    # The counter's booking page shows the resident's full ID number.
    Sensitive("counter_booking", methods=frozenset({"GET", "HEAD"}), idle=True),
]

# Reachable before the second factor is set up (2fa pages: everything under mfa_index).
_ENROLMENT_OPEN = {
    "account_logout",
    "account_reauthenticate",
    "account_request_reauthentication_code",
    "account_confirm_reauthentication_code",
    "set_language",
}
# Reachable by a session that has not passed its second factor yet.
_VERIFY_OPEN = {
    "account_logout",
    "mfa_reauthenticate",
    "mfa_reauthenticate_webauthn",
    "set_language",
}


def is_staff_member(user: Any) -> bool:
    """Return whether ``user`` is staff: an admin or a clerk of any office."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Office.objects.filter(clerks=user).exists()


def _is_staff_request(request: HttpRequest) -> bool:
    """Return whether the request's user is staff, without a query for residents on their
    own pages: whether a user is a clerk is kept in the session (from sign-in) and asked
    afresh on the staff areas (the counter, the admin), so a clerk assigned while signed
    in meets the rules there at once."""
    user = request.user
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    known = request.session.get(SESSION_CLERK_KEY)
    if known is None or request.path_info.startswith(STAFF_AREAS):
        fresh = is_staff_member(user)
        if fresh != known:
            request.session[SESSION_CLERK_KEY] = fresh
        return fresh
    return bool(known)


def has_authenticator(user: Any) -> bool:
    """Return whether ``user`` has a second factor (recovery codes alone do not count)."""
    return (
        Authenticator.objects.filter(user_id=user.pk)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .exists()
    )


def last_mfa_at(request: HttpRequest) -> float | None:
    """Return when this session last passed its second factor (a Unix time), if ever."""
    moments = [
        record.get("at", 0)
        for record in get_authentication_records(request, request.user)
        if record.get("method") == "mfa"
    ]
    return max(moments) if moments else None


def _url_name(request: HttpRequest) -> str | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return match.view_name


def _is_open(request: HttpRequest, name: str | None, open_names: set[str]) -> bool:
    if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return True
    return name in open_names


def _sensitive(request: HttpRequest, name: str | None) -> Sensitive | None:
    for rule in REAUTHENTICATION_REQUIRED:
        if rule.url_name == name and (rule.methods is None or request.method in rule.methods):
            return rule
    return None


class StaffAuthMiddleware:
    """See the module docstring. After allauth's AccountMiddleware (it needs the user,
    messages and allauth's request context)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            answer = self._check(request) if _is_staff_request(request) else None
        except Exception as exc:
            # The first read of the session or the user may be here, before any view:
            # a lost database is the busy page, as it would be in the view.
            lost = _database_error(exc)
            if lost is None:
                raise
            return database_unavailable(request, lost)
        response = answer or self.get_response(request)
        _log_lockout(request, response)
        return response

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        now = time.time()
        session = request.session
        started = session.get(SESSION_STARTED_KEY)
        last_seen = session.get(SESSION_LAST_SEEN_KEY)
        if started is None or last_seen is None:  # a session from before these rules
            started = last_seen = session[SESSION_STARTED_KEY] = now
        if now - last_seen > settings.STAFF_SESSION_IDLE_SECONDS:
            return self._expire(request, "idle")
        if now - started > settings.STAFF_SESSION_MAX_SECONDS:
            return self._expire(request, "absolute")
        session[SESSION_LAST_SEEN_KEY] = now
        # The session row itself dies an idle period after the absolute limit, whatever
        # reads the cookie; until then the next request is told and logged (above).
        end = started + settings.STAFF_SESSION_MAX_SECONDS + settings.STAFF_SESSION_IDLE_SECONDS
        session.set_expiry(max(1, int(end - now)))

        name = _url_name(request)
        open_setup = name is not None and name.startswith("mfa_")  # allauth.mfa's pages
        if not has_authenticator(request.user):
            if open_setup or _is_open(request, name, _ENROLMENT_OPEN):
                return None
            messages.warning(
                request,
                _("Staff accounts need a second factor. Set up an authenticator app to continue."),
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))

        verified_at = last_mfa_at(request)
        if verified_at is None:
            if _is_open(request, name, _VERIFY_OPEN):
                return None
            messages.info(request, _("Confirm it is you with your second factor."))
            return suspend_request(request, reverse("mfa_reauthenticate"))

        rule = _sensitive(request, name)
        if rule is not None:
            fresh_since = max(verified_at, last_seen) if rule.idle else verified_at
            if now - fresh_since >= settings.ACCOUNT_REAUTHENTICATION_TIMEOUT:
                messages.info(
                    request,
                    _("This action needs your second factor again. Confirm it is you."),
                )
                return suspend_request(request, reverse("mfa_reauthenticate"))
        return None

    def _expire(self, request: HttpRequest, reason: str) -> HttpResponse:
        user = request.user
        security_event("staff_session_expired", request=request, user=user, reason=reason)
        logout(request)
        messages.info(
            request,
            _("Your session ended after a time without activity. Please log in again.")
            if reason == "idle"
            else _("Your session reached its time limit. Please log in again."),
        )
        url = reverse("account_login")
        if request.method == "GET":
            url += "?" + urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(url)


def _log_lockout(request: HttpRequest, response: HttpResponse) -> None:
    """Log allauth's rate limit refusing a login or MFA code (its form error)."""
    if request.method != "POST":
        return
    context = getattr(response, "context_data", None) or {}
    form = context.get("form")
    errors = getattr(form, "errors", None)
    if not errors:
        return
    codes = {error.code for field in errors.as_data().values() for error in field}
    if "too_many_login_attempts" in codes:
        user = getattr(form, "user", None) or getattr(request, "user", None)
        security_event("login_locked_out", request=request, user=user)


# Signal receivers, connected when the admin app's config is ready (config/apps.py).


@receiver(user_logged_in, dispatch_uid="staff_auth_logged_in")
def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    staff = is_staff_member(user)
    if not (user.is_staff or user.is_superuser):
        request.session[SESSION_CLERK_KEY] = staff
    if not staff:
        return
    now = time.time()
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_LAST_SEEN_KEY] = now
    methods = [
        record.get("type") or record.get("method")
        for record in get_authentication_records(request, user)
    ]
    security_event("staff_login", request=request, user=user, methods=methods)


@receiver(user_login_failed, dispatch_uid="staff_auth_login_failed")
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    email = credentials.get("email") or credentials.get("username")
    if not email or not isinstance(email, str):
        return
    user = get_user_model().objects.filter(email__iexact=email).first()
    if user is not None and is_staff_member(user):
        security_event("staff_login_failed", request=request, user=user)


def _on_mfa_change(event: str) -> Callable[..., None]:
    def handler(sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kw: Any):
        security_event(event, request=request, user=user, type=str(authenticator.type))
        if event == "mfa_authenticator_added" and authenticator.type in (
            Authenticator.Type.TOTP,
            Authenticator.Type.WEBAUTHN,
        ):
            # Adding it took a valid code (or the key's signature): this session has
            # just passed the second factor, so it is not asked for it again at once.
            record_authentication(
                request, user, "mfa", id=authenticator.pk, type=authenticator.type
            )

    return handler


_mfa_added = _on_mfa_change("mfa_authenticator_added")
_mfa_removed = _on_mfa_change("mfa_authenticator_removed")
_mfa_reset = _on_mfa_change("mfa_authenticator_reset")
mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid="staff_auth_mfa_added")
mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid="staff_auth_mfa_removed")
mfa_signals.authenticator_reset.connect(_mfa_reset, dispatch_uid="staff_auth_mfa_reset")
