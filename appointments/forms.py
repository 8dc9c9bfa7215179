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
