from django import forms
from django.utils.translation import gettext_lazy as _

from registration.models import EBike


class BookForm(forms.Form):
    """The booking form: the window (hidden) and which of the resident's e-bikes without a
    plate comes to the counter. With only one such e-bike there is nothing to choose: it is
    ticked on the page, and a POST without it books it."""

    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    ebike = forms.ModelChoiceField(
        label=_("E-bike to register"),
        queryset=EBike.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "invalid_choice": _("Choose one of your e-bikes listed here."),
        },
    )

    def __init__(self, *args, resident, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["ebike"]
        field.queryset = EBike.objects.filter(resident=resident, plate__isnull=True).order_by("id")
        ebikes = list(field.queryset)
        self.only_ebike = ebikes[0] if len(ebikes) == 1 else None
        if self.only_ebike is not None:
            field.initial = self.only_ebike.pk
            field.required = False
        else:
            # Always two or more (with none the page sends the resident to add one first).
            field.error_messages["required"] = _(
                "You have %(count)d e-bikes without a plate: choose the one you will bring."
            ) % {"count": len(ebikes)}

    def clean_ebike(self):
        return self.cleaned_data["ebike"] or self.only_ebike


class MoveForm(forms.Form):
    slot = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
