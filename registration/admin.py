from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin

from . import crypto
from .forms import PersonNumberForm
from .models import EBike, Resident


class UserAdmin(DjangoUserAdmin):
    """The fields of an account; registered with its privilege rules (which write to the
    audit log) by ``supervision.admin.users``."""

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


@admin.register(Resident)
class ResidentAdmin(ReadOnlyAdmin):
    """People on record: written by the services (a profile online, a walk-in at the
    counter, a re-bind at the counter), read here; an ID number moved to the right
    account goes through the counter's re-bind, which audits it."""

    list_display = ["real_name", "id_masked", "phone", "user", "created_at"]
    # Names and e-mail only: the search box is a GET form (see ``find`` for numbers).
    search_fields = ["real_name", "user__email"]
    fields = ["user", "real_name", "id_masked", "birth_date", "phone", "created_at"]
    raw_id_fields = ["user"]

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
class EBikeAdmin(ReadOnlyAdmin):
    """E-bikes on record, written by the services that check frame numbers; read here."""

    list_display = ["frame_number", "brand", "model", "resident", "created_at"]
    search_fields = ["frame_number", "motor_number", "certificate_number", "brand"]
    raw_id_fields = ["resident"]
