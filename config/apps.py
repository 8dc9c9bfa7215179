from django.contrib.admin.apps import AdminConfig


class SupervisorAdminConfig(AdminConfig):
    default_site = "config.admin.SupervisorAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovery: every app's admin module
        # Imported here, once the apps are loaded (Django's place for this): the staff
        # sign-in signal receivers (security events, session times) and the fixed
        # third-party admins.
        from django.contrib import admin  # noqa: PLC0415

        from config import staff_auth  # noqa: F401, PLC0415
        from config.beat_admin import register_third_party_admins  # noqa: PLC0415

        register_third_party_admins(admin.site)
