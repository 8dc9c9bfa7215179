"""How every form of the project renders its fields (settings.FORM_RENDERER)."""

from typing import Any

from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.forms.widgets import Widget


class AccessibleBoundField(BoundField):
    """Django's bound field, with ``aria-required`` beside ``required``.

    The forms carry ``novalidate`` (the server's messages say more than the browser's), so
    ``required`` alone is not always announced by older screen readers; ``aria-required``
    is. Radio buttons are left out: ARIA allows the attribute on the group, not on a radio.
    Django already sets ``aria-invalid`` and points ``aria-describedby`` at the errors.
    """

    def build_widget_attrs(
        self, attrs: dict[str, Any], widget: Widget | None = None
    ) -> dict[str, Any]:
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if attrs.get("required") and getattr(widget, "input_type", None) != "radio":
            attrs["aria-required"] = "true"
        return attrs


class FormRenderer(DjangoTemplates):
    bound_field_class = AccessibleBoundField
