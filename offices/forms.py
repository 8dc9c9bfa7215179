from django import forms
from django.utils.translation import gettext_lazy as _

from core.clock import validate_day_in_range

from .models import Complaint, Office


class ComplaintForm(forms.Form):
    office = forms.ModelChoiceField(
        label=_("Service point"),
        queryset=Office.objects.filter(is_active=True).order_by("code"),
        empty_label=_("Choose a service point"),
    )
    category = forms.ChoiceField(
        label=_("What is it about?"), choices=Complaint.Category.choices, widget=forms.RadioSelect
    )
    incident_date = forms.DateField(
        label=_("Date of the incident"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day_in_range],
    )
    text = forms.CharField(
        label=_("What happened"),
        max_length=Complaint.TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": Complaint.TEXT_MAX_LENGTH}),
        help_text=_("At most 2000 characters. Do not include your ID number."),
    )
