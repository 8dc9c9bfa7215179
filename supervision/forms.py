import re

from django import forms
from django.utils.translation import gettext_lazy as _

from core.clock import validate_day_in_range
from offices.models import Office
from registration.forms import PersonNumberForm
from registration.idnumber import ascii_form
from registration.models import User

from .audit_log import ACTION_CHOICES
from .stats import Group


def _date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        validators=[validate_day_in_range],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class AuditLogForm(forms.Form):
    """Filters of the admins' audit log; its field names are the page's GET parameters."""

    clerk = forms.ModelChoiceField(
        label=_("clerk"), queryset=User.objects.all(), required=False, widget=forms.HiddenInput
    )
    office = forms.ModelChoiceField(
        label=_("office"),
        queryset=Office.objects.order_by("code"),
        required=False,
        empty_label=_("all offices"),
    )
    action = forms.ChoiceField(
        label=_("action"), choices=[("", _("all actions")), *ACTION_CHOICES], required=False
    )
    person = forms.CharField(
        label=_("person"),
        max_length=100,
        required=False,
        help_text=_("E-mail or name of the clerk, admin or resident."),
    )
    q = forms.CharField(
        label=_("text"),
        max_length=200,
        required=False,
        help_text=_("Words in the detail or reason, or a booking code."),
    )
    start = _date_field(_("from"))
    end = _date_field(_("to"))

    # Seven digits or more in a row: a mobile or ID number, which must not travel in a URL.
    NUMBER_LIKE = re.compile(r"[0-9]{7,}")

    def _no_personal_number(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if self.NUMBER_LIKE.search(re.sub(r"[\s-]", "", ascii_form(value))):
            raise forms.ValidationError(
                _(
                    "Search an ID or mobile number with the number field below "
                    "(sent without the URL)."
                )
            )
        return value

    def clean_person(self):
        return self._no_personal_number("person")

    def clean_q(self):
        return self._no_personal_number("q")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end date is before the start date."))
        return data


class AuditNumberForm(PersonNumberForm):
    """Find audit lines by a full ID number or a mobile number: sent by POST only, never in
    a URL. An ID number finds the resident's counter actions; a mobile number finds those of
    the resident or of the clerk or admin with that number."""


class StatisticsForm(forms.Form):
    """The period, grouping and thresholds of the statistics page (all from the query string)."""

    MAX_DAYS = 366

    start = forms.DateField(
        label=_("From"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day_in_range],
    )
    end = forms.DateField(
        label=_("To"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day_in_range],
    )
    office = forms.ModelChoiceField(
        label=_("Office"),
        queryset=Office.objects.order_by("name"),
        required=False,
        empty_label=_("All offices"),
    )
    group = forms.ChoiceField(label=_("One row per"), choices=[])
    walkin_share = forms.DecimalField(
        label=_("Flag priority walk-ins above this percentage of people served"),
        min_value=0,
        max_value=100,
        decimal_places=1,
        required=False,
    )
    complaint_share = forms.DecimalField(
        label=_("Flag complaints above this percentage of people served"),
        min_value=0,
        max_value=100,
        decimal_places=1,
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = Group.CHOICES

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The end of the period is before its start."))
            if (end - start).days >= self.MAX_DAYS:
                raise forms.ValidationError(
                    _("Choose a period of at most %(days)d days.") % {"days": self.MAX_DAYS}
                )
        return data
