from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from . import crypto

# A frame number as stored: 6 to 32 letters and digits, upper case, nothing between them
# (``registration.services.frame_number_clean`` makes a typed one so).
FRAME_NUMBER_PATTERN = r"[0-9A-Z]{6,32}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str | None, password: str | None, **extra: Any) -> "User":
        email = self.normalize_email(email).lower() if email else None
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(
        self, email: str | None = None, password: str | None = None, **extra: Any
    ) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(
        self, email: str | None, password: str | None = None, **extra: Any
    ) -> "User":
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A login: by e-mail or by Chinese mobile number (E.164), either may be empty."""

    # Django removes an inherited field set to None, and lets a model redefine one (here
    # nullable); django-stubs types AbstractUser's as always-present strings.
    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField(  # type: ignore[assignment]
        _("e-mail address"), unique=True, null=True, blank=True
    )
    phone = models.CharField(_("mobile number"), max_length=16, unique=True, null=True, blank=True)
    phone_verified = models.BooleanField(_("mobile number verified"), default=False)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # A manager without usernames; django-stubs expects auth's own UserManager here.
    objects = UserManager()  # type: ignore[assignment,misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(phone__isnull=False),
                name="user_has_email_or_phone",
            ),
            models.CheckConstraint(
                condition=Q(phone__isnull=True) | Q(phone__regex=r"^\+861[3-9][0-9]{9}$"),
                name="user_phone_e164_cn",
            ),
        ]

    def __str__(self) -> str:
        return self.email or self.phone or f"user {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Forms (allauth's included) give "" for a missing value; uniqueness needs NULL.
        self.email = self.email.lower() if self.email else None
        self.phone = self.phone or None
        super().save(*args, **kwargs)


class Resident(models.Model):
    """A person, identified by resident ID number; may or may not have a login."""

    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resident",
        verbose_name=_("user"),
    )
    real_name = models.CharField(_("real name"), max_length=50)
    id_hash = models.CharField(_("ID number hash"), max_length=64, unique=True, editable=False)
    id_encrypted = models.TextField(_("ID number (encrypted)"), editable=False)
    id_masked = models.CharField(_("ID number"), max_length=18, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone = models.CharField(_("mobile number"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(real_name=""), name="resident_has_name"),
        ]

    def __str__(self) -> str:
        return f"{self.real_name} ({self.id_masked})"

    def reveal_id_number(self) -> str:
        """Return the clear ID number; only for the clerk serving this person."""
        return crypto.decrypt(self.id_encrypted)


class EBike(models.Model):
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="ebikes", verbose_name=_("owner")
    )
    frame_number = models.CharField(_("frame number"), max_length=32, unique=True)
    motor_number = models.CharField(_("motor number"), max_length=32, blank=True)
    brand = models.CharField(_("brand"), max_length=50)
    model = models.CharField(_("model"), max_length=50, blank=True)
    certificate_number = models.CharField(
        _("certificate of conformity number"), max_length=50, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("e-bike")
        verbose_name_plural = _("e-bikes")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(frame_number__regex=rf"^{FRAME_NUMBER_PATTERN}$"),
                name="ebike_frame_number_normalized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} {self.model} {self.frame_number}".replace("  ", " ")
