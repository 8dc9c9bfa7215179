from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin import ReadOnlyAdmin
from offices.models import Office

from . import services
from .models import Inspection, PlateNumber, PlateRegistration, QueueTicket


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


@admin.register(PlateRegistration)
class PlateRegistrationAdmin(ReadOnlyAdmin):
    """Plates issued: written only by ``plate_issue`` at the counter (which takes the plate
    from stock and audits it); an admin reads them, never adds or rewrites one."""

    list_display = ["plate_number", "ebike", "office", "clerk", "channel", "registered_at"]
    list_filter = ["office", "channel"]
    search_fields = ["plate_number", "ebike__frame_number"]
    date_hierarchy = "registered_at"
    raw_id_fields = ["ebike", "booking", "clerk"]


class PlateRangeForm(forms.Form):
    office = forms.ModelChoiceField(label=_("office"), queryset=Office.objects.order_by("code"))
    prefix = forms.CharField(label=_("prefix"), max_length=8, help_text=_("For example 营口A"))
    first = forms.IntegerField(label=_("first number"), min_value=0, max_value=99999)
    last = forms.IntegerField(label=_("last number"), min_value=0, max_value=99999)


@admin.register(PlateNumber)
class PlateNumberAdmin(ReadOnlyAdmin):
    """Plate stock: load ranges (button above the list), void damaged or lost plates.

    The rows are read-only; both changes go through the plate services (``change_platenumber``
    allows them), which check the stock and audit the void."""

    list_display = ["number", "office", "status", "note", "loaded_at", "changed_at"]
    list_filter = ["office", "status"]
    search_fields = ["number"]
    actions = ["void_damaged", "void_lost"]
    change_list_template = "admin/counter/platenumber/change_list.html"

    def has_stock_permission(self, request) -> bool:
        return request.user.has_perm("counter.change_platenumber")

    def get_urls(self):
        return [
            path(
                "load/",
                self.admin_site.admin_view(self.load_range),
                name="counter_platenumber_load",
            ),
            *super().get_urls(),
        ]

    def load_range(self, request):
        if not self.has_stock_permission(request):
            raise PermissionDenied
        form = PlateRangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = services.plate_stock_load(**form.cleaned_data)
            except services.PlateRefused as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    ngettext("%(count)d plate loaded.", "%(count)d plates loaded.", count)
                    % {"count": count},
                )
                return redirect("admin:counter_platenumber_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": _("Load plates")}
        return TemplateResponse(request, "admin/counter/platenumber/load.html", context)

    def _void(self, request, queryset, reason: str) -> None:
        voided = 0
        for plate in queryset.filter(status=PlateNumber.Status.AVAILABLE):
            services.plate_void(
                office=plate.office, number=plate.number, reason=reason, user=request.user
            )
            voided += 1
        self.message_user(
            request,
            ngettext("%(count)d plate voided.", "%(count)d plates voided.", voided)
            % {"count": voided},
        )

    @admin.action(description=_("Void the selected plates as damaged"), permissions=["stock"])
    def void_damaged(self, request, queryset):
        self._void(request, queryset, "damaged")

    @admin.action(description=_("Void the selected plates as lost"), permissions=["stock"])
    def void_lost(self, request, queryset):
        self._void(request, queryset, "lost")
