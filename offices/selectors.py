"""Reads about offices for pages."""

from django.db.models import QuerySet

from .models import Office


def offices_for_residents() -> QuerySet[Office]:
    return (
        Office.objects.filter(is_active=True)
        .prefetch_related("windows")
        .order_by("-is_main_urban", "code")
    )
