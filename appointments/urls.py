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
]
