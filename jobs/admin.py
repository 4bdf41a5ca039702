from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "started_at", "finished_at", "rows_created", "rows_updated", "rows_skipped"]
    list_filter = ["kind", "status"]

    # Jobs are written by the services that run them; a hand-edited row would lie about what ran.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
