from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from offices.services import QuotaError

from . import capacity as capacity_services
from .models import Booking, DayRelease, Notification, Slot


class SlotForm(forms.ModelForm):
    change_reason = forms.CharField(
        label=_("Reason for the change"), widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = Slot
        fields = ["capacity"]

    def clean(self):
        data = super().clean()
        capacity = data.get("capacity")
        if capacity is not None:
            try:
                capacity_services.slot_capacity_validate(slot=self.instance, capacity=capacity)
            except QuotaError as exc:
                self.add_error("capacity", str(exc))
        return data


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    form = SlotForm
    list_display = ["date", "office", "start", "end", "capacity", "booked", "remaining"]
    list_filter = ["office", "date"]
    date_hierarchy = "date"
    readonly_fields = ["office", "date", "start", "end", "booked"]
    fields = ["office", "date", "start", "end", "booked", "capacity", "change_reason"]
    actions = None

    def has_add_permission(self, request):
        return False  # slots are created by the release

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            capacity_services.slot_capacity_change(
                slot_id=obj.pk,
                capacity=form.cleaned_data["capacity"],
                reason=form.cleaned_data["change_reason"],
                user=request.user,
            )
        except QuotaError as exc:
            self.message_user(request, str(exc), level="error")


@admin.register(DayRelease)
class DayReleaseAdmin(ReadOnlyAdmin):
    list_display = ["date", "office", "capacity", "closed", "released_at"]
    list_filter = ["office", "closed"]
    date_hierarchy = "date"


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ["code", "resident", "office", "date", "slot", "status", "source", "created_at"]
    list_filter = ["status", "source", "office"]
    search_fields = ["code"]
    date_hierarchy = "date"
    list_select_related = ["resident", "office", "slot", "slot__office"]
    change_list_template = "admin/appointments/booking/change_list.html"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "event",
        "booking",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "event"]
    search_fields = ["booking__code"]
