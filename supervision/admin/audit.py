"""The supervisors' part of the admin: the audit log with its search."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyAdmin
from counter.audit import detail_text
from counter.models import AuditEntry

from ..audit_log import audit_log_search
from ..forms import AuditLogForm, AuditNumberForm


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "office", "clerk", "action", "booking", "resident", "detail_shown"]
    list_filter = ["action", "office"]
    search_fields = ["booking__code", "clerk__email", "clerk__phone"]
    date_hierarchy = "at"
    list_select_related = ["office", "clerk", "booking", "resident"]

    @admin.display(description=_("detail"))
    def detail_shown(self, obj: AuditEntry) -> str:
        return detail_text(obj.detail_code, obj.detail_params)

    def get_urls(self):
        return [
            path(
                "log/",
                self.admin_site.admin_view(self.log_view),
                name="counter_auditentry_log",
            ),
            *super().get_urls(),
        ]

    def log_view(self, request):
        """Search counter actions and quota changes together, newest first.

        The filters (clerk, office, action, person, q, start, end, page) come by GET, so
        other pages can link to a search and a search can be bookmarked. An ID or mobile
        number must never be in a URL (access logs, browser history): the GET filters refuse
        one, and the second form takes it by POST, re-sending the filters as hidden fields;
        its page buttons post that form again.
        """
        if not (
            self.has_view_permission(request) and request.user.has_perm("offices.view_quotachange")
        ):
            raise PermissionDenied
        by_id = request.method == "POST"
        data = request.POST if by_id else request.GET
        form = AuditLogForm(data)
        id_form = AuditNumberForm(request.POST if by_id else None)
        page = None
        if form.is_valid() and (not by_id or id_form.is_valid()):
            filters = form.cleaned_data
            page = audit_log_search(
                clerk_id=filters["clerk"].pk if filters["clerk"] else None,
                office_id=filters["office"].pk if filters["office"] else None,
                action=filters["action"],
                person=filters["person"],
                text=filters["q"],
                start=filters["start"],
                end=filters["end"],
                **(id_form.cleaned_data["number"] if by_id else {}),
                page=data.get("page") or 1,
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Audit log"),
            "form": form,
            "id_form": id_form,
            "by_id": by_id,
            "page": page,
            "clerk": form.cleaned_data.get("clerk") if form.is_valid() else None,
        }
        return TemplateResponse(request, "admin/counter/auditentry/log.html", context)
