from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from offices import services as quota_services

from .models import (
    AuditEntry,
    Booking,
    DayRelease,
    Inspection,
    Notification,
    QueueTicket,
    Slot,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
                quota_services.slot_capacity_validate(slot=self.instance, capacity=capacity)
            except quota_services.QuotaError as exc:
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
            quota_services.slot_capacity_change(
                slot_id=obj.pk,
                capacity=form.cleaned_data["capacity"],
                reason=form.cleaned_data["change_reason"],
                user=request.user,
            )
        except quota_services.QuotaError as exc:
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

    def get_urls(self):
        from django.urls import path

        from . import admin_views

        def statistics(request):
            return admin_views.statistics(request, self)

        return [
            path(
                "statistics/",
                self.admin_site.admin_view(statistics),
                name="appointments_booking_statistics",
            ),
            *super().get_urls(),
        ]


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


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "office", "clerk", "action", "booking", "resident", "detail_shown"]
    list_filter = ["action", "office"]
    search_fields = ["booking__code", "clerk__email", "clerk__phone"]
    date_hierarchy = "at"
    list_select_related = ["office", "clerk", "booking", "resident"]

    @admin.display(description=_("detail"))
    def detail_shown(self, obj: AuditEntry) -> str:
        return obj.detail

    def get_urls(self):
        from django.urls import path

        return [
            path(
                "log/",
                self.admin_site.admin_view(self.log_view),
                name="appointments_auditentry_log",
            ),
            *super().get_urls(),
        ]

    def log_view(self, request):
        """Search counter actions and quota changes together, newest first.

        The filters (clerk, office, action, person, q, start, end, page) come by GET, so
        other pages can link to a search and a search can be bookmarked. An ID or mobile
        number must never be in a URL (access logs, browser history): the GET filters refuse
        one, and the second form takes it by POST, re-sending the filters as hidden fields;
        its page buttons post that form again.
        """
        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse

        from .audit_log import audit_log_search
        from .forms import AuditLogForm, AuditNumberForm

        if not (
            self.has_view_permission(request) and request.user.has_perm("offices.view_quotachange")
        ):
            raise PermissionDenied
        by_id = request.method == "POST"
        data = request.POST if by_id else request.GET
        form = AuditLogForm(data)
        id_form = AuditNumberForm(request.POST if by_id else None)
        page = None
        if form.is_valid() and (not by_id or id_form.is_valid()):
            filters = form.cleaned_data
            page = audit_log_search(
                clerk_id=filters["clerk"].pk if filters["clerk"] else None,
                office_id=filters["office"].pk if filters["office"] else None,
                action=filters["action"],
                person=filters["person"],
                text=filters["q"],
                start=filters["start"],
                end=filters["end"],
                **(id_form.cleaned_data["number"] if by_id else {}),
                page=data.get("page") or 1,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Audit log"),
            "form": form,
            "id_form": id_form,
            "by_id": by_id,
            "page": page,
            "clerk": form.cleaned_data.get("clerk") if form.is_valid() else None,
        }
        return TemplateResponse(request, "admin/appointments/auditentry/log.html", context)


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["at", "booking", "clerk", "failed_items"]
    search_fields = ["booking__code"]
    date_hierarchy = "at"


@admin.register(QueueTicket)
class QueueTicketAdmin(ReadOnlyAdmin):
    list_display = ["date", "office", "number", "status", "issued_at", "called_at", "served_at"]
    list_filter = ["status", "office"]
    date_hierarchy = "date"
