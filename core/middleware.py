"""Headers and records every response gets, whatever view made it (docs/security.md).

``SecurityHeadersMiddleware`` (after ``AuthenticationMiddleware``):

- ``Cache-Control: no-store, private`` (Django's ``add_never_cache_headers``) on every
  response to a signed-in person: their pages carry personal data (a booking, an ID number
  at the counter), and the counter PCs are shared. Also on the sign-in and sign-up pages
  (``/accounts/``) for anyone: half-way through they show the mobile number a code went
  to. Other anonymous pages (home, availability, office days) are left as they are,
  cacheable as before.
- ``Permissions-Policy``: no camera, microphone, geolocation, payment or USB anywhere; the
  camera only for the site itself on the counter pages (a QR scanner there).
- A ``forbidden`` security event for every 403 answer (a view's PermissionDenied, a CSRF
  refusal, the admin), with path, user id and client address.
- The signed-in user's id and the client address (``core.security.client_address``, which
  trusts ``TRUSTED_PROXY_COUNT`` proxies) written into the WSGI environ as
  ``ebike.user_id`` / ``ebike.client``, where gunicorn's access log reads them
  (``%({ebike.user_id}e)s``, config/gunicorn.py). The environ never reaches the client, so
  no header has to be stripped.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from .security import client_address, security_event

# Counter pages may use the camera (scanning a booking's QR code); nothing else may.
COUNTER_PATH_PREFIX = "/counter/"
# Sign-in, sign-up and their code pages: never stored, signed in or not.
ACCOUNT_PATH_PREFIX = "/accounts/"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
COUNTER_PERMISSIONS_POLICY = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"

# WSGI environ keys the access log reads (config/gunicorn.py).
ENVIRON_USER_ID = "ebike.user_id"
ENVIRON_CLIENT = "ebike.client"


def permissions_policy(path: str) -> str:
    """The Permissions-Policy for a page at ``path``: the camera only on counter pages."""
    if path.startswith(COUNTER_PATH_PREFIX):
        return COUNTER_PERMISSIONS_POLICY
    return PERMISSIONS_POLICY


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        already = "no-store" in response.get("Cache-Control", "")  # e.g. the busy page's
        if (signed_in or request.path.startswith(ACCOUNT_PATH_PREFIX)) and not already:
            add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        response.headers.setdefault("Permissions-Policy", permissions_policy(request.path))
        if response.status_code == 403:
            security_event("forbidden", request=request, method=request.method)
        request.META[ENVIRON_USER_ID] = str(user.pk) if signed_in and user is not None else "-"
        request.META[ENVIRON_CLIENT] = client_address(request)
        return response
