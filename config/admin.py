"""The admin site for traffic-police supervisors: signed-in people without the admin role
get 403, not a second login form. The supervisors' pages that are not a model's list (the
statistics) are mounted here, at the addresses they have always had."""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _

from supervision import admin_views


class SupervisorAdminSite(admin.AdminSite):
    site_header = _("E-bike registration: supervision")
    site_title = _("E-bike registration: supervision")

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            user = request.user
            if user.is_authenticated and not (user.is_active and user.is_staff):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return guarded

    def login(self, request, extra_context=None):
        """One login for everyone: allauth's, with its rate limits, lockout and second
        factor. This page never checks a password; it sends people there (with ``next``)."""
        next_url = request.GET.get("next") or request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        next_url = next_url or reverse("admin:index", current_app=self.name)
        if request.user.is_authenticated:
            if not (request.user.is_active and request.user.is_staff):
                raise PermissionDenied
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(
            resolve_url(settings.LOGIN_URL) + "?" + urlencode({"next": next_url})
        )

    def get_urls(self):
        def statistics(request):
            return admin_views.statistics(request, self)

        return [
            path(
                "appointments/booking/statistics/",
                self.admin_view(statistics),
                name="appointments_booking_statistics",
            ),
            *super().get_urls(),
        ]
