from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record kept as it was written: listed and read, never added, changed or deleted."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
