"""``{% sms_city_budget as budget %}``: this hour's city-wide SMS count, for the admin index."""

from django import template

from registration.sms_budget import CityBudget, city_budget

register = template.Library()


@register.simple_tag
def sms_city_budget() -> CityBudget:
    return city_budget()
