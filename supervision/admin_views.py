"""Supervision pages in the admin that are not a model's list: the statistics."""

import csv
import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from . import stats
from .charts import bar_chart
from .forms import StatisticsForm

STATISTICS_PERMISSIONS = [
    "appointments.view_booking",
    "counter.view_auditentry",
    "offices.view_complaint",
]


def _form(request: HttpRequest) -> StatisticsForm:
    today = timezone.localdate()
    data = {
        "start": (today - datetime.timedelta(days=13)).isoformat(),
        "end": today.isoformat(),
        "group": stats.Group.DAY,
    }
    data.update(request.GET.items())
    return StatisticsForm(data)


def _share(value: Decimal | None) -> float | None:
    return None if value is None else float(value) / 100


def statistics(request: HttpRequest, admin_site) -> HttpResponse:
    """Figures for a period per day, week or office, with charts, per-clerk counts and
    integrity flags; ``?export=csv`` (or ``clerks``) gives the same numbers as CSV."""
    # The page shows bookings, the clerks' audit trail and complaint counts.
    if not request.user.has_perms(STATISTICS_PERMISSIONS):
        raise PermissionDenied
    form = _form(request)
    context = {
        **admin_site.each_context(request),
        "title": _("Statistics"),
        "form": form,
    }
    if not form.is_valid():
        return TemplateResponse(request, "admin/appointments/booking/statistics.html", context)
    data = form.cleaned_data
    period = {"start": data["start"], "end": data["end"], "office": data["office"]}
    export = request.GET.get("export")
    if export == "clerks":
        clerks = stats.clerk_counts(**period)
        return _clerks_csv(clerks, f"clerks-{data['start']}-{data['end']}.csv")
    report = stats.report(group=data["group"], **period)
    if export == "csv":
        return _csv(report, f"statistics-{data['start']}-{data['end']}-{data['group']}.csv")
    clerks = stats.clerk_counts(**period)
    flags = stats.integrity_flags(
        walkin_share=_share(data["walkin_share"]),
        complaint_share=_share(data["complaint_share"]),
        clerks=clerks,
        **period,
    )
    query = request.GET.copy()
    query.pop("export", None)
    context.update(
        report=report,
        columns=stats.COLUMNS,
        group_label=dict(stats.Group.CHOICES)[report.group],
        clerks=clerks,
        clerk_columns=stats.CLERK_COLUMNS,
        flags=[(flag, _flag_link(flag, data)) for flag in flags],
        charts=_charts(report),
        csv_query=urlencode({**query.dict(), "export": "csv"}),
        clerks_query=urlencode({**query.dict(), "export": "clerks"}),
    )
    return TemplateResponse(request, "admin/appointments/booking/statistics.html", context)


def _charts(report: stats.Report):
    days = report.days
    return [
        bar_chart(
            _("Bookings per day"),
            [(d.label, d.figures.booked) for d in days],
        ),
        bar_chart(
            _("Booking success rate per day (%)"),
            [(d.label, d.figures.success_rate) for d in days],
            maximum=100,
            decimals=1,
        ),
        bar_chart(
            _("Time from release to sell-out per day (min)"),
            [(d.label, d.figures.mean_sell_out_minutes) for d in days],
            decimals=1,
        ),
    ]


def _flag_link(flag: stats.Flag, data) -> str:
    """The records behind a flag: audit entries of the walk-ins, or the complaints."""
    period = {"start": data["start"].isoformat(), "end": data["end"].isoformat()}
    if flag.what == "complaints":
        return (
            reverse("admin:offices_complaint_changelist")
            + "?"
            + urlencode(
                {
                    "office__id__exact": flag.subject.pk,
                    "incident_date__gte": period["start"],
                    "incident_date__lt": (data["end"] + datetime.timedelta(days=1)).isoformat(),
                }
            )
        )
    who = {"clerk": flag.subject.pk} if flag.kind == "clerk" else {"office": flag.subject.pk}
    return (
        reverse("admin:counter_auditentry_log")
        + "?"
        + urlencode({**who, "action": "check_in", "q": "priority walk-in", **period})
    )


def _csv_response(filename: str) -> tuple[HttpResponse, "csv._writer"]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so that spreadsheet programs read the Chinese labels as UTF-8
    return response, csv.writer(response)


def _text_cell(value) -> str:
    """A name as a spreadsheet shows it, never as a formula (=, +, -, @ would start one)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(report: stats.Report, filename: str) -> HttpResponse:
    response, writer = _csv_response(filename)
    group_label = dict(stats.Group.CHOICES)[report.group]
    writer.writerow([str(group_label), *(str(c) for c in stats.COLUMNS)])
    for row in report.rows:
        writer.writerow([_text_cell(row.label), *row.figures.cells()])
    writer.writerow([_("Total"), *report.total.cells()])
    return response


def _clerks_csv(clerks: list[stats.ClerkRow], filename: str) -> HttpResponse:
    response, writer = _csv_response(filename)
    writer.writerow([_("clerk"), *(str(c) for c in stats.CLERK_COLUMNS)])
    for row in clerks:
        writer.writerow([_text_cell(row.clerk), *row.cells()])
    return response
