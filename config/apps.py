from django.contrib.admin.apps import AdminConfig


class SupervisorAdminConfig(AdminConfig):
    default_site = "config.admin.SupervisorAdminSite"

    def ready(self) -> None:
        super().ready()
        # Connects the staff sign-in signal receivers (security events, session times).
        from config import staff_auth  # noqa: F401, PLC0415
