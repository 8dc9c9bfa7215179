from django.contrib.admin.apps import AdminConfig


class SupervisorAdminConfig(AdminConfig):
    default_site = "config.admin.SupervisorAdminSite"
