from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from offices.models import Office

from . import crypto, services
from .forms import PersonNumberForm
from .idnumber import parse_id_number
from .models import EBike, PlateNumber, PlateRegistration, Resident, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["id"]
    list_display = ["id", "email", "phone", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "phone"]
    fieldsets = [
        (None, {"fields": ["email", "phone", "phone_verified", "password"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "phone", "password1", "password2"]}),
    ]


class ResidentAddForm(forms.ModelForm):
    id_number = forms.CharField(label=_("resident ID number"), max_length=18)

    class Meta:
        model = Resident
        fields = ["user", "real_name", "phone"]

    def clean_id_number(self):
        parsed = parse_id_number(self.cleaned_data["id_number"])
        if services.resident_find_by_id_number(parsed.number):
            raise ValidationError(_("This ID number is already registered."))
        return parsed.number


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    list_display = ["real_name", "id_masked", "phone", "user", "created_at"]
    # Names and e-mail only: the search box is a GET form (see ``find`` for numbers).
    search_fields = ["real_name", "user__email"]
    readonly_fields = ["id_masked", "birth_date", "created_at"]
    raw_id_fields = ["user"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ResidentAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "real_name", "id_number", "phone"]
        return ["user", "real_name", "id_masked", "birth_date", "phone", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.resident_create(
            user=form.cleaned_data.get("user"),
            real_name=form.cleaned_data["real_name"],
            id_number=form.cleaned_data["id_number"],
            phone=form.cleaned_data.get("phone", ""),
        )
        obj.pk = created.pk
        obj.__dict__.update(created.__dict__)

    change_list_template = "admin/registration/resident/change_list.html"

    def get_urls(self):
        return [
            path("find/", self.admin_site.admin_view(self.find), name="registration_resident_find"),
            *super().get_urls(),
        ]

    def find(self, request):
        """Open a person's record by full ID number (through its keyed hash) or mobile number.

        POST only: the search box above the list is a GET form, and these numbers must not
        stand in a URL (access logs, browser history).
        """
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:registration_resident_changelist")
        form = PersonNumberForm(request.POST)
        if not form.is_valid():
            self.message_user(request, " ".join(form.errors["number"]), level=messages.ERROR)
            return redirect("admin:registration_resident_changelist")
        number = form.cleaned_data["number"]
        if "id_number" in number:
            found = Resident.objects.filter(id_hash=crypto.id_number_hash(number["id_number"]))
        else:
            phone = number["phone"]
            found = Resident.objects.filter(Q(phone=phone) | Q(user__phone=phone))
        people = list(found[:2])
        if len(people) == 1:
            return redirect("admin:registration_resident_change", people[0].pk)
        self.message_user(
            request,
            _("Nobody on record has this number.")
            if not people
            else _("Several people on record have this number; search by name as well."),
            level=messages.WARNING,
        )
        return redirect("admin:registration_resident_changelist")


@admin.register(EBike)
class EBikeAdmin(admin.ModelAdmin):
    list_display = ["frame_number", "brand", "model", "resident", "created_at"]
    search_fields = ["frame_number", "motor_number", "certificate_number", "brand"]
    raw_id_fields = ["resident"]


@admin.register(PlateRegistration)
class PlateRegistrationAdmin(admin.ModelAdmin):
    list_display = ["plate_number", "ebike", "office", "clerk", "channel", "registered_at"]
    list_filter = ["office", "channel"]
    search_fields = ["plate_number", "ebike__frame_number"]
    date_hierarchy = "registered_at"
    raw_id_fields = ["ebike", "booking", "clerk"]

    def has_delete_permission(self, request, obj=None):
        return False  # a plate number is issued once; history stays


class PlateRangeForm(forms.Form):
    office = forms.ModelChoiceField(label=_("office"), queryset=Office.objects.order_by("code"))
    prefix = forms.CharField(label=_("prefix"), max_length=8, help_text=_("For example 营口A"))
    first = forms.IntegerField(label=_("first number"), min_value=0, max_value=99999)
    last = forms.IntegerField(label=_("last number"), min_value=0, max_value=99999)


@admin.register(PlateNumber)
class PlateNumberAdmin(admin.ModelAdmin):
    """Plate stock: load ranges (button above the list), void damaged or lost plates."""

    list_display = ["number", "office", "status", "note", "loaded_at", "changed_at"]
    list_filter = ["office", "status"]
    search_fields = ["number"]
    readonly_fields = ["number", "office", "status", "loaded_at", "changed_at"]
    actions = ["void_damaged", "void_lost"]
    change_list_template = "admin/registration/platenumber/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "load/",
                self.admin_site.admin_view(self.load_range),
                name="registration_platenumber_load",
            ),
            *super().get_urls(),
        ]

    def load_range(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = PlateRangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = services.plate_stock_load(**form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, _("%(count)d plates loaded.") % {"count": count})
                return redirect("admin:registration_platenumber_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": _("Load plates")}
        return TemplateResponse(request, "admin/registration/platenumber/load.html", context)

    def _void(self, request, queryset, reason: str) -> None:
        voided = 0
        for plate in queryset.filter(status=PlateNumber.Status.AVAILABLE):
            services.plate_void(
                office=plate.office, number=plate.number, reason=reason, user=request.user
            )
            voided += 1
        self.message_user(request, _("%(count)d plates voided.") % {"count": voided})

    @admin.action(description=_("Void the selected plates as damaged"))
    def void_damaged(self, request, queryset):
        self._void(request, queryset, "damaged")

    @admin.action(description=_("Void the selected plates as lost"))
    def void_lost(self, request, queryset):
        self._void(request, queryset, "lost")
