"""Accounts and groups in the admin, with least privilege.

Staff and superuser status, groups and permissions are shown to everyone who may see an
account but can be changed only by a superuser, and never on their own account (the
fields are read-only there, for a superuser too). Staff who hold ``change_user`` without
being superusers change only a non-staff account's e-mail address, mobile number and
whether it is active, and never set anyone's password (that would let them sign in as
that person; a superuser may, and it is a security event). A staff or superuser account
is read-only to them (changing its e-mail address would let them take it over), and so
are its addresses in allauth's e-mail address admin. Groups are a superuser's business alone.

What the form shows is not the guard: ``save_model`` keeps the stored status whatever was
posted, and the privilege fields reach the database only through
``supervision.services.user_privileges_set``, which refuses what the rules refuse and
writes every change to the audit log; each is also a security event
(``permission_changed``).
"""

from allauth.account.admin import EmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from core.security import security_event
from registration.admin import UserAdmin
from registration.models import User

from .. import services as supervision_services

PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


def _log_changes(request: HttpRequest, changes, **where) -> None:
    for change in changes:
        security_event(
            "permission_changed",
            request=request,
            change=change.code,
            granted=change.target or None,
            **where,
        )


class StaffUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        fields = ["last_login", "date_joined"]
        if obj is None:
            return fields
        if not supervision_services.privileges_editable(actor=request.user, user=obj):
            fields += PRIVILEGE_FIELDS
        if obj.pk == request.user.pk:
            fields.append("is_active")  # nobody locks themselves out, or back in
        return fields

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return not (obj.is_staff or obj.is_superuser)

    def has_delete_permission(self, request, obj=None):
        if not (request.user.is_superuser and super().has_delete_permission(request, obj)):
            return False
        return obj is None or obj.pk != request.user.pk

    def user_change_password(self, request, id, form_url=""):
        if not (request.user.is_active and request.user.is_superuser):
            raise PermissionDenied
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            security_event("password_set", request=request, target=int(id))
        return response

    def save_model(self, request, obj, form, change):
        # Whatever was posted, the status stays as stored until the service changes it.
        form.privileges_wanted = {
            field: form.cleaned_data[field]
            for field in ("is_staff", "is_superuser")
            if field in form.cleaned_data
        }
        if change:
            stored = User.objects.get(pk=obj.pk)
            obj.is_staff, obj.is_superuser = stored.is_staff, stored.is_superuser
        else:
            obj.is_staff = obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        wanted = dict(getattr(form, "privileges_wanted", {}))
        if "groups" in form.cleaned_data:
            wanted["groups"] = form.cleaned_data.pop("groups")
        if "user_permissions" in form.cleaned_data:
            wanted["permissions"] = form.cleaned_data.pop("user_permissions")
        super().save_related(request, form, formsets, change)
        if not wanted:
            return
        try:
            changes = supervision_services.user_privileges_set(
                user=form.instance, actor=request.user, **wanted
            )
        except supervision_services.PrivilegeRefused:
            raise PermissionDenied from None
        _log_changes(request, changes, target=form.instance.pk)


admin.site.register(User, StaffUserAdmin)


def _privileged(user: User | None) -> bool:
    return bool(user is not None and (user.is_staff or user.is_superuser))


class GuardedEmailAddressAdmin(EmailAddressAdmin):
    """allauth's e-mail addresses (they sign in and reset passwords): those of staff and
    superuser accounts are changed by superusers only, as the accounts themselves are."""

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or request.user.is_superuser or not _privileged(obj.user)

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or request.user.is_superuser or not _privileged(obj.user)

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            stored = EmailAddress.objects.filter(pk=obj.pk).select_related("user").first()
            if _privileged(obj.user) or (stored is not None and _privileged(stored.user)):
                raise PermissionDenied
        super().save_model(request, obj, form, change)

    def _unprivileged(self, request, queryset):
        if request.user.is_superuser:
            return queryset
        return queryset.exclude(user__is_staff=True).exclude(user__is_superuser=True)

    def make_verified(self, request, queryset):
        super().make_verified(request, self._unprivileged(request, queryset))

    make_verified.short_description = EmailAddressAdmin.make_verified.short_description  # type: ignore[attr-defined]

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, self._unprivileged(request, queryset))


admin.site.unregister(EmailAddress)
admin.site.register(EmailAddress, GuardedEmailAddressAdmin)


class SuperuserGroupAdmin(DjangoGroupAdmin):
    """Groups: seen and changed by superusers only; permission changes audited."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def save_related(self, request, form, formsets, change):
        permissions = form.cleaned_data.pop("permissions", None)
        super().save_related(request, form, formsets, change)
        if permissions is None:
            return
        try:
            changes = supervision_services.group_permissions_set(
                group=form.instance, permissions=permissions, actor=request.user
            )
        except supervision_services.PrivilegeRefused:
            raise PermissionDenied from None
        _log_changes(request, changes, group=form.instance.pk)

    def delete_model(self, request, obj):
        pk = obj.pk
        supervision_services.group_delete(group=obj, actor=request.user)
        security_event("permission_changed", request=request, change="group_deleted", group=pk)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            self.delete_model(request, group)


admin.site.unregister(Group)
admin.site.register(Group, SuperuserGroupAdmin)


class SuperuserAuthenticatorAdmin(admin.ModelAdmin):
    """Second factors: a superuser sees who has which and deletes a lost one (the person
    enrols again at their next sign-in); nobody adds or edits one here, and the secret
    (``data``) is never shown. Staff with the model's permissions could otherwise remove an
    admin's second factor."""

    list_display = ("user", "type", "created_at", "last_used_at")
    list_filter = ("type",)
    fields = ("user", "type", "created_at", "last_used_at")
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def delete_model(self, request, obj):
        owner, kind = obj.user_id, obj.type
        super().delete_model(request, obj)
        security_event(
            "mfa_authenticator_removed", request=request, owner=owner, type=kind, by="admin"
        )

    def delete_queryset(self, request, queryset):
        for authenticator in queryset:
            self.delete_model(request, authenticator)


admin.site.unregister(Authenticator)
admin.site.register(Authenticator, SuperuserAuthenticatorAdmin)
