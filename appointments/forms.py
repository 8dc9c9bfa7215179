from django import forms
from django.utils.translation import gettext_lazy as _

from registration.models import EBike


class BookForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    ebike = forms.ModelChoiceField(
        label=_("E-bike to register"),
        queryset=EBike.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose the e-bike you will bring.")},
    )

    def __init__(self, *args, resident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ebike"].queryset = EBike.objects.filter(
            resident=resident, plate__isnull=True
        ).order_by("id")


class MoveForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


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
