from django.urls import path

from . import views

urlpatterns = [
    path("counter/", views.counter_home, name="counter_home"),
    path("counter/<slug:code>/", views.counter_board, name="counter_board"),
    path("counter/<slug:code>/walkin/", views.counter_walkin, name="counter_walkin"),
    path("counter/<slug:code>/queue/", views.counter_queue, name="counter_queue"),
    path("counter/<slug:code>/identity/", views.counter_identity, name="counter_identity"),
    path("display/<slug:code>/", views.display_board, name="display_board"),
    path(
        "counter/<slug:code>/bookings/<str:booking_code>/",
        views.counter_booking,
        name="counter_booking",
    ),
    path(
        "counter/<slug:code>/bookings/<str:booking_code>/slip/",
        views.counter_slip,
        name="counter_slip",
    ),
]
