from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from .models import EBike, Resident, User


def resident_for_user(user: User | AnonymousUser) -> Resident | None:
    if not user.is_authenticated:
        return None
    return Resident.objects.filter(user=user).first()


def ebikes_for_resident(resident: Resident) -> QuerySet[EBike]:
    return EBike.objects.filter(resident=resident).select_related("plate").order_by("id")
