from django.urls import path

from . import views

urlpatterns = [
    path("", views.profile, name="profile"),
    path("ping/", views.ping, name="session_ping"),
    path("ebikes/new/", views.ebike_add, name="ebike_add"),
    path("ebikes/<int:pk>/remove/", views.ebike_remove, name="ebike_remove"),
]
