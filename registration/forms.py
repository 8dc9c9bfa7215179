import re

from allauth.account.forms import RequestLoginCodeForm as AllauthRequestLoginCodeForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from altcha_django.forms import AltchaField
from altcha_django.widgets import AltchaWidget
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .idnumber import ascii_form, normalize_mobile, parse_id_number
from .models import EBike
from .services import RegistrationError, frame_number_clean


class ChineseMobileField(forms.CharField):
    """An 11-digit mainland mobile number, cleaned to E.164 (+86…)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"type": "tel", "inputmode": "numeric", "autocomplete": "tel"}),
        )
        kwargs.setdefault("help_text", _("11 digits, for example 13900000000."))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        return normalize_mobile(value) if value else value


class ProofOfWorkWidget(AltchaWidget):
    """altcha_django's widget, with its script tag beside it: allauth's pages render
    forms with ``as_p``, never ``form.media``. The script is the one the package vendors,
    served from our static files; nothing inline."""

    template_name = "registration/altcha_widget.html"


def proof_of_work_field() -> AltchaField:
    """An invisible ALTCHA proof of work: the browser solves it as the page loads (a
    fraction of a second), a script sending thousands of requests pays for each one."""
    return AltchaField(widget=ProofOfWorkWidget, auto="onload", display="invisible")


class SignupForm(AllauthSignupForm):
    """Sign up with a mobile number (verified by SMS code) or with e-mail and password."""

    altcha = proof_of_work_field()

    def clean(self):
        data = super().clean()
        phone, email = data.get("phone"), data.get("email")
        if not phone and not email and not self.has_error("phone") and not self.has_error("email"):
            raise ValidationError(_("Enter a mobile number or an e-mail address."))
        if email and not phone and not data.get("password1") and not self.has_error("password1"):
            self.add_error("password1", _("Choose a password to sign in with your e-mail."))
        return data


class RequestLoginCodeForm(AllauthRequestLoginCodeForm):
    """allauth's "send me a code" form, with the proof of work: each SMS costs money."""

    altcha = proof_of_work_field()


class ResidentForm(forms.Form):
    real_name = forms.CharField(
        label=_("Real name"),
        max_length=50,
        help_text=_("As printed on your resident ID card."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={
            "required": _("Enter your real name, as printed on your resident ID card."),
            "max_length": _("Enter your name in at most %(limit_value)d characters."),
        },
    )
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=18,
        min_length=1,
        help_text=_("18 characters; the last may be X. Shown masked after saving."),
        # Not inputmode="numeric": a phone's number pad has no X, and one in ten ID numbers
        # ends with it. The text keyboard with capitals on types both; the pattern says
        # "17 digits, then a digit or X" (a lower-case x is accepted and upper-cased).
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "inputmode": "text",
                "autocapitalize": "characters",
                "pattern": "[0-9]{17}[0-9Xx]",
            }
        ),
        error_messages={
            "required": _("Enter your resident ID number: 18 characters, the last may be X."),
            "max_length": _(
                "Enter the 18 characters of your resident ID number; this has %(show_value)d."
            ),
        },
    )
    phone = ChineseMobileField(required=False)

    def clean_id_number(self):
        return parse_id_number(self.cleaned_data["id_number"]).number


class ResidentUpdateForm(forms.Form):
    real_name = ResidentForm.base_fields["real_name"]
    phone = ChineseMobileField(required=False)


class EBikeForm(forms.ModelForm):
    class Meta:
        model = EBike
        fields = ["frame_number", "brand", "model", "motor_number", "certificate_number"]
        widgets = {
            "frame_number": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }
        help_texts = {
            "frame_number": _("Printed on the frame and on the certificate of conformity."),
        }
        # Each message says what to enter, not only that something is wrong.
        error_messages = {
            "frame_number": {
                "required": _("Enter the frame number: 6 to 32 letters or digits."),
                "max_length": _("Enter the frame number: 6 to 32 letters or digits."),
                "unique": _("An e-bike with this frame number is already registered."),
            },
            "brand": {
                "required": _("Enter the brand, as on the certificate of conformity."),
                "max_length": _("Enter the brand in at most %(limit_value)d characters."),
            },
            "model": {
                "max_length": _("Enter the model in at most %(limit_value)d characters."),
            },
            "motor_number": {
                "max_length": _("Enter the motor number in at most %(limit_value)d characters."),
            },
            "certificate_number": {
                "max_length": _(
                    "Enter the certificate number in at most %(limit_value)d characters."
                ),
            },
        }

    def clean_frame_number(self):
        # Normalise before the model's checks run: "abc-123 456" is ABC123456, which the
        # unique and format constraints (validated by the ModelForm) must see.
        try:
            return frame_number_clean(self.cleaned_data["frame_number"])
        except RegistrationError as exc:
            raise ValidationError(exc.message, code=exc.code) from None


class PersonNumberForm(forms.Form):
    """A full ID number or a mobile number, sent by POST so that it never stands in a URL.

    ``cleaned_data["number"]`` is ``{"id_number": ...}`` or ``{"phone": ...}`` (E.164).
    """

    number = forms.CharField(
        label=_("ID or mobile number"),
        max_length=24,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_number(self) -> dict:
        value = self.cleaned_data["number"]
        try:
            return {"phone": normalize_mobile(value)}
        except ValidationError:
            pass
        try:
            return {"id_number": parse_id_number(value).number}
        except ValidationError as exc:
            if len(re.sub(r"[\s-]", "", ascii_form(value))) == 18:
                raise  # an ID number with a mistake: say which
            message = _("Enter a full ID number or an 11-digit mobile number.")
            raise ValidationError(message) from exc
