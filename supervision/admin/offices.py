"""Admin for offices. Every capacity edit goes through a service that checks the floor and
logs it: ``offices.services`` for an office's own settings, ``appointments.capacity`` where
the released days matter (closings, windows, plans ahead)."""

import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from appointments import capacity, selectors
from core.security import security_event
from offices import services
from offices.models import ClosedDay, Complaint, Office, PlannedChange, QuotaChange, TimeWindow

from .. import services as supervision_services

ADMIN_DELETE_REASON = "Deleted in the admin"


def reason_given(form: forms.Form, field: str) -> bool:
    """The rule that a capacity change needs a reason (``offices.services.reason_required``),
    shown on the form's ``field``; False when it is missing."""
    try:
        services.reason_required(form.cleaned_data.get(field) or "")
    except services.QuotaError as exc:
        form.add_error(field, str(exc))
        return False
    return True


class ReasonFormMixin(forms.Form):
    change_reason = forms.CharField(
        label=_("Reason for a capacity change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when a capacity changes; kept in the quota log."),
    )


class OfficeForm(ReasonFormMixin, forms.ModelForm):
    class Meta:
        model = Office
        fields = [
            "name",
            "code",
            "address",
            "district",
            "opening_hours",
            "is_main_urban",
            "is_active",
            "has_walkin_window",
            "opening_weekdays",
            "daily_capacity",
            "weekly_quota",
            "clerks",
        ]

    # Who is saving (set by OfficeAdmin.get_form): nobody makes themselves a clerk.
    actor = None

    def clean(self):
        data = super().clean()
        clerks = data.get("clerks")
        if (
            self.actor is not None
            and clerks is not None
            and supervision_services.clerk_self_assignment(
                self.actor, office=self.instance, clerks=clerks
            )
        ):
            self.add_error(
                "clerks",
                _("You cannot make yourself a clerk; another administrator has to assign you."),
            )
        if self.instance.pk and not self.errors:
            changes = {f: data[f] for f in services.QUOTA_FIELDS if f in self.changed_data}
            if changes:
                reason_given(self, "change_reason")
                try:
                    services.office_quota_validate(office=self.instance, changes=changes)
                except services.QuotaError as exc:
                    raise forms.ValidationError(str(exc)) from None
        return data


class ReleaseNowForm(forms.Form):
    AHEAD_DAYS = 14  # as far as the preview shows

    date = forms.DateField(
        label=_("Release this date now"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_date(self):
        day = self.cleaned_data["date"]
        today = timezone.localdate()
        if not today <= day <= today + datetime.timedelta(days=self.AHEAD_DAYS):
            raise forms.ValidationError(
                _("Choose a day from today to %(days)d days ahead.") % {"days": self.AHEAD_DAYS}
            )
        return day


class ReleaseScheduleForm(forms.Form):
    at = forms.TimeField(
        label=_("Release every day at"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    horizon_days = forms.IntegerField(
        label=_("Opening this many days ahead"), min_value=1, max_value=14
    )


class TimeWindowInline(admin.TabularInline):
    model = TimeWindow
    fields = ["start", "end", "capacity"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # windows are added in their own page so the change is logged


class PlannedChangeInline(admin.TabularInline):
    model = PlannedChange
    verbose_name_plural = _("Changes planned from a later day")
    fields = ["effective_from", "field", "window", "start", "end", "value", "reason", "created_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(applied_at__isnull=True)

    def has_add_permission(self, request, obj=None):
        return False  # planned in their own page, checked against the floor and logged


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    form = OfficeForm
    list_display = [
        "code",
        "name",
        "district",
        "is_main_urban",
        "is_active",
        "has_walkin_window",
        "opening_weekdays",
        "daily_capacity",
        "weekly_quota",
        "weekly_online",
    ]
    list_filter = ["is_main_urban", "is_active", "has_walkin_window", "district"]
    search_fields = ["name", "code", "address", "district"]
    filter_horizontal = ["clerks"]
    inlines = [TimeWindowInline, PlannedChangeInline]
    fieldsets = [
        (None, {"fields": ["name", "code", "address", "district", "opening_hours"]}),
        (
            _("Capacity"),
            {
                "fields": [
                    "is_main_urban",
                    "is_active",
                    "has_walkin_window",
                    "opening_weekdays",
                    "daily_capacity",
                    "weekly_quota",
                    "change_reason",
                ]
            },
        ),
        (_("Staff"), {"fields": ["clerks"]}),
    ]

    @admin.display(description=_("weekly online places"))
    def weekly_online(self, obj: Office) -> int:
        return services.office_plan(obj).weekly_online

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        name, options = fieldsets[1]
        description = _(
            "Changes saved here apply to the days not released yet, from %(date)s. To change "
            "capacity from a later day, plan the change instead."
        ) % {"date": capacity.first_open_day(obj).isoformat()}
        return [fieldsets[0], (name, {**options, "description": description}), *fieldsets[2:]]

    def save_model(self, request, obj, form, change):
        if not change:
            services.office_add(office=obj)
            return
        changes = {f: getattr(obj, f) for f in services.QUOTA_FIELDS if f in form.changed_data}
        services.office_save(
            office=obj,
            changes=changes,
            reason=form.cleaned_data.get("change_reason", ""),
            user=request.user,
        )
        for plan in services.pending_changes(office_ids=[obj.pk]):
            if plan.field in changes:
                self.message_user(
                    request,
                    _(
                        "Still planned: %(what)s becomes %(value)d from %(date)s. Withdraw "
                        "that plan if this change should last beyond it."
                    )
                    % {
                        "what": plan.get_field_display(),
                        "value": plan.value,
                        "date": plan.effective_from.isoformat(),
                    },
                    level=messages.WARNING,
                )

    def get_readonly_fields(self, request, obj=None):
        # Clerks see full ID numbers at their counter: assigning them is a permission of
        # its own; without it the field is shown, not posted (a crafted value is ignored).
        fields = list(super().get_readonly_fields(request, obj))
        if not supervision_services.clerks_assign_allowed(request.user):
            fields.append("clerks")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_related(self, request, form, formsets, change):
        # The clerks go through the service, which checks the permission and audits who was
        # added or removed; each change is a security event too.
        clerks = form.cleaned_data.pop("clerks", None)
        super().save_related(request, form, formsets, change)
        if clerks is None:
            return
        try:
            added, removed = supervision_services.office_clerks_set(
                office=form.instance, clerks=clerks, user=request.user
            )
        except supervision_services.PrivilegeRefused:
            raise PermissionDenied from None
        for change_code, changed in (("clerk_added", added), ("clerk_removed", removed)):
            for clerk in changed:
                security_event(
                    "permission_changed",
                    request=request,
                    change=change_code,
                    target=clerk.pk,
                    office=form.instance.pk,
                )

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: bookings and history refer to offices

    change_list_template = "admin/offices/office/change_list.html"

    def get_urls(self):
        return [
            path(
                "overview/",
                self.admin_site.admin_view(self.overview),
                name="offices_office_overview",
            ),
            *super().get_urls(),
        ]

    def overview(self, request):
        """Capacity at a glance: the weekly floor, the next release, 14 days ahead; and
        "release now" for a date, through the same idempotent service as the schedule."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        current = selectors.release_schedule()
        initial = {"at": current.at, "horizon_days": current.horizon_days} if current else {}
        scheduling = request.method == "POST" and "schedule" in request.POST
        schedule_form = ReleaseScheduleForm(request.POST if scheduling else None, initial=initial)
        if scheduling:
            if not request.user.has_perm("django_celery_beat.change_periodictask"):
                raise PermissionDenied
            if schedule_form.is_valid():
                supervision_services.release_schedule_set(
                    **schedule_form.cleaned_data, user=request.user
                )
                self.message_user(request, _("The release schedule was saved."))
                return redirect("admin:offices_office_overview")
        form = ReleaseNowForm(None if scheduling else request.POST or None)
        if request.method == "POST" and not scheduling and form.is_valid():
            result = supervision_services.release_now(
                day=form.cleaned_data["date"], user=request.user
            )
            self.message_user(
                request,
                ngettext(
                    "%(date)s released: %(places)d place (%(already)d offices already were).",
                    "%(date)s released: %(places)d places (%(already)d offices already were).",
                    result.places,
                )
                % {
                    "date": result.date.isoformat(),
                    "places": result.places,
                    "already": len(result.already),
                },
            )
            return redirect("admin:offices_office_overview")
        today = timezone.localdate()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Capacity overview"),
            "weekly_total": services.main_urban_weekly_total(),
            "weekly_ahead": services.main_urban_weekly_totals_ahead(),
            "planned": PlannedChange.objects.filter(applied_at__isnull=True).select_related(
                "office", "window", "created_by"
            ),
            "floor": settings.WEEKLY_ONLINE_FLOOR,
            "next_release": selectors.next_release(),
            "release_overdue": selectors.release_overdue(),
            "preview": selectors.capacity_preview(
                today=today, first_releasable=selectors.first_scheduled_day()
            ),
            "form": form,
            "schedule_form": schedule_form,
        }
        return TemplateResponse(request, "admin/offices/office/overview.html", context)


class TimeWindowForm(ReasonFormMixin, forms.ModelForm):
    class Meta:
        model = TimeWindow
        fields = ["office", "start", "end", "capacity"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not reason_given(self, "change_reason"):
            return data
        window = TimeWindow(
            pk=self.instance.pk,
            office=data.get("office") or self.instance.office,
            start=data["start"],
            end=data["end"],
            capacity=data["capacity"],
        )
        try:
            capacity.window_validate(window=window)
        except services.QuotaError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(TimeWindow)
class TimeWindowAdmin(admin.ModelAdmin):
    form = TimeWindowForm
    list_display = ["office", "start", "end", "capacity"]
    list_filter = ["office"]
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return ["office"] if obj else []  # a window stays with its office; add a new one

    def save_model(self, request, obj, form, change):
        capacity.window_save(
            window=obj, reason=form.cleaned_data["change_reason"], user=request.user
        )

    def delete_view(self, request, object_id, extra_context=None):
        window = self.get_object(request, object_id)
        if request.method == "POST" and window is not None:
            try:
                capacity.window_validate(window=window, delete=True)
            except services.QuotaError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                return redirect("admin:offices_timewindow_change", window.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        capacity.window_delete(window=obj, reason=ADMIN_DELETE_REASON, user=request.user)


class ClosedDayForm(forms.ModelForm):
    class Meta:
        model = ClosedDay
        fields = ["office", "date", "reason"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not reason_given(self, "reason"):
            return data
        try:
            capacity.closed_day_validate(office=data["office"], date=data["date"])
        except services.QuotaError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(ClosedDay)
class ClosedDayAdmin(admin.ModelAdmin):
    form = ClosedDayForm
    list_display = ["office", "date", "reason"]
    list_filter = ["office"]
    date_hierarchy = "date"
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return ["office", "date", "reason"] if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            capacity.closed_day_add(
                office=obj.office, date=obj.date, reason=obj.reason, user=request.user
            )

    def delete_model(self, request, obj):
        services.closed_day_remove(closed_day=obj, reason=ADMIN_DELETE_REASON, user=request.user)


class PlannedChangeForm(forms.ModelForm):
    class Meta:
        model = PlannedChange
        fields = ["office", "field", "window", "start", "end", "value", "effective_from", "reason"]
        widgets = {
            "start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "effective_from": forms.DateInput(attrs={"type": "date"}),
            "reason": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "window": _("The window whose capacity changes or which ends."),
            "start": _("Only for a new time window."),
            "value": _("The new capacity (places); not needed when a window ends."),
            "reason": _("Kept in the quota log."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["value"].required = False

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if not reason_given(self, "reason"):
            return data
        try:
            capacity.planned_change_validate(**self.plan(data))
        except services.QuotaError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    @staticmethod
    def plan(data) -> dict:
        fields = ["office", "field", "value", "effective_from", "window", "start", "end"]
        return {name: data.get(name) for name in fields}


@admin.register(PlannedChange)
class PlannedChangeAdmin(admin.ModelAdmin):
    form = PlannedChangeForm
    list_display = [
        "effective_from",
        "office",
        "field",
        "window",
        "start",
        "end",
        "value",
        "applied_at",
        "created_by",
        "created_at",
    ]
    list_filter = ["office", "field", ("applied_at", admin.EmptyFieldListFilter)]
    date_hierarchy = "effective_from"
    actions = None
    list_select_related = ["office", "window", "window__office", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return (
            [*PlannedChangeForm.Meta.fields, "applied_at", "created_by", "created_at"]
            if obj
            else []
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        pending = obj is None or obj.applied_at is None
        return pending and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            data = form.cleaned_data
            saved = capacity.planned_change_add(
                **PlannedChangeForm.plan(data), reason=data["reason"], user=request.user
            )
            obj.pk = saved.pk

    def delete_view(self, request, object_id, extra_context=None):
        change = self.get_object(request, object_id)
        if request.method == "POST" and change is not None:
            if not self.has_delete_permission(request, change):
                raise PermissionDenied
            try:
                capacity.planned_change_cancel(
                    change=change, reason=ADMIN_DELETE_REASON, user=request.user
                )
            except services.QuotaError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                return redirect("admin:offices_plannedchange_change", change.pk)
            self.message_user(request, _("The planned change was withdrawn."))
            return redirect("admin:offices_plannedchange_changelist")
        return super().delete_view(request, object_id, extra_context)


@admin.register(QuotaChange)
class QuotaChangeAdmin(admin.ModelAdmin):
    list_display = [
        "changed_at",
        "office",
        "field",
        "target",
        "old_value",
        "new_value",
        "effective_from",
        "changed_by",
    ]
    list_filter = ["office", "field"]
    search_fields = ["reason", "target", "changed_by__email"]
    date_hierarchy = "changed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ComplaintForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ["status", "assigned_to", "answer"]

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.complaint_update_validate(
                    complaint=Complaint.objects.get(pk=self.instance.pk),
                    status=data["status"],
                    answer=data.get("answer", ""),
                )
            except services.ComplaintError as exc:
                self.add_error("answer", str(exc))
        return data


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    form = ComplaintForm
    list_display = ["created_at", "office", "category", "status", "incident_date", "assigned_to"]
    list_filter = ["status", "category", "office", "incident_date"]
    search_fields = ["text", "answer"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "user",
        "office",
        "category",
        "incident_date",
        "text",
        "created_at",
        "answered_at",
    ]
    fields = [*readonly_fields, "status", "assigned_to", "answer"]
    raw_id_fields = ["assigned_to"]

    def save_model(self, request, obj, form, change):
        services.complaint_update(
            complaint=obj,
            status=form.cleaned_data["status"],
            assigned_to=form.cleaned_data["assigned_to"],
            answer=form.cleaned_data["answer"],
            user=request.user,
        )

    def has_add_permission(self, request):
        return False  # complaints come from residents

    def has_delete_permission(self, request, obj=None):
        return False
