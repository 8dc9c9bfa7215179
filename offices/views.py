from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .selectors import offices_for_residents


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "offices/home.html",
        {"offices": offices_for_residents(), "now": timezone.localtime()},
    )
