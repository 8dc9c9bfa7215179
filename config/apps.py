from django.contrib.admin.apps import AdminConfig


class SupervisorAdminConfig(AdminConfig):
    default_site = "config.admin.SupervisorAdminSite"

    def ready(self):
        super().ready()  # autodiscovery: every app's admin module
        from django.contrib import admin

        from config.beat_admin import register_third_party_admins

        register_third_party_admins(admin.site)
