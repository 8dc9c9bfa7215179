from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from config import health
from config.metrics import metrics
from offices import views as office_views

# A lost database outside a view (e.g. saving the session) is a 503 page, not a 500.
handler500 = "config.overload.server_error"
# Every rate-limit refusal, allauth's included (it renders ROOT_URLCONF.handler429), is this page.
handler429 = "core.ratelimit.rate_limited"

urlpatterns = [
    path("", office_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("complaints/", office_views.complaint_list, name="complaint_list"),
    path("complaints/new/", office_views.complaint_new, name="complaint_new"),
    path("me/", include("registration.urls")),
    path("", include("appointments.urls")),
    path("", include("counter.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include("allauth.urls")),
    # The counter's models moved from appointments and registration (counter migration 0001);
    # bookmarks of their admin pages still work.
    re_path(
        r"^admin/(?:appointments|registration)/"
        r"(?P<model>auditentry|inspection|queueticket|platenumber|plateregistration)/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/counter/%(model)s/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
]
