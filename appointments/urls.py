from django.urls import path

from . import views

urlpatterns = [
    path("availability/", views.availability, name="availability"),
    path("offices/<slug:code>/<str:day>/", views.office_day, name="office_day"),
    path("book/<int:slot_id>/", views.book, name="book"),
    path("bookings/", views.booking_list, name="booking_list"),
    path("bookings/<str:code>/", views.booking_detail, name="booking_detail"),
    path("bookings/<str:code>/print/", views.booking_print, name="booking_print"),
    path("bookings/<str:code>/calendar.ics", views.booking_calendar, name="booking_calendar"),
    path("bookings/<str:code>/cancel/", views.booking_cancel, name="booking_cancel"),
    path("bookings/<str:code>/move/", views.booking_move, name="booking_move"),
    path("counter/", views.counter_home, name="counter_home"),
    path("counter/<slug:code>/", views.counter_board, name="counter_board"),
    path("counter/<slug:code>/walkin/", views.counter_walkin, name="counter_walkin"),
    path("counter/<slug:code>/queue/", views.counter_queue, name="counter_queue"),
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
