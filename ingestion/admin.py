from django.contrib import admin

from .models import Fill, Lumisection, Run, TrackerCertification


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = [
        "fill_number",
        "era",
        "fill_type_runtime",
        "bunches_colliding",
        "peak_pileup",
        "b_field",
        "start_time",
    ]
    list_filter = ["fill_type_runtime", "era"]
    search_fields = ["fill_number", "injection_scheme"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["run_number", "run_class", "fill", "start_time", "duration", "b_field", "apv_mode", "l1_hlt_mode"]
    list_filter = ["run_class", "apv_mode", "era"]
    search_fields = ["run_number"]
    raw_id_fields = ["fill"]
    # APV mode and primary vertices come from outside OMS; an admin may correct them.
    # An edited value is kept over every source (ingestion.services.run_conditions_override).
    readonly_fields = ["sources", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        from .services import run_conditions_override

        run_conditions_override(run=obj, changed=form.changed_data)
        super().save_model(request, obj, form, change)


@admin.register(Lumisection)
class LumisectionAdmin(admin.ModelAdmin):
    list_display = ["run", "number", "init_lumi", "pileup", "physics_flag"]
    raw_id_fields = ["run"]
    search_fields = ["run__run_number"]


@admin.register(TrackerCertification)
class TrackerCertificationAdmin(admin.ModelAdmin):
    # The Run Registry's, refreshed by every sync: read here, corrected there.
    list_display = ["run", "dataset", "state", "pixel", "strip", "tracking", "good_lumisections", "lumisections"]
    list_filter = ["reconstruction", "state", "pixel", "strip", "tracking"]
    search_fields = ["run__run_number", "dataset"]
    raw_id_fields = ["run"]
    readonly_fields = ["created_at", "updated_at"]
