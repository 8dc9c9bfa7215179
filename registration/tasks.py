from celery import shared_task

from . import services


@shared_task
def clear_expired_sessions() -> int:
    """Scheduled nightly by django-celery-beat; safe to run any number of times."""
    return services.sessions_clear_expired()
