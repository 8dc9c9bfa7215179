"""The admin site for traffic-police supervisors: signed-in people without the admin role
get 403, not a second login form. The supervisors' pages that are not a model's list (the
statistics) are mounted here, at the addresses they have always had."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
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
