from django import forms
from django.utils.translation import gettext_lazy as _


class PriorityWalkinForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason (no booking needed)"),
        choices=[("veteran", _("veteran")), ("senior", _("aged 65 or over"))],
        widget=forms.RadioSelect,
    )
    veteran_certificate = forms.CharField(
        label=_("Veteran certificate number"), max_length=40, required=False
    )
    real_name = forms.CharField(label=_("Real name"), max_length=50)
    id_number = forms.CharField(label=_("Resident ID number"), max_length=18)
    frame_number = forms.CharField(label=_("Frame number"), max_length=40)
    brand = forms.CharField(label=_("Brand"), max_length=50)
    model = forms.CharField(label=_("Model"), max_length=50, required=False)


class WindowServeForm(forms.Form):
    ticket = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    real_name = forms.CharField(label=_("Real name"), max_length=50)
    id_number = forms.CharField(label=_("Resident ID number"), max_length=18)
    frame_number = forms.CharField(label=_("Frame number"), max_length=40)
    brand = forms.CharField(label=_("Brand"), max_length=50)
    model = forms.CharField(label=_("Model"), max_length=50, required=False)


class IdentityRebindForm(forms.Form):
    """The ID number on the card the person shows, and the account they signed up with."""

    id_number = forms.CharField(
        label=_("Resident ID number (from the card)"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    login = forms.CharField(
        label=_("The person's account: the mobile number or e-mail address they signed up with"),
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
