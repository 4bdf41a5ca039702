from django.contrib import admin

from .models import CuratedReference, ReferencePair, RunReconstruction


@admin.register(RunReconstruction)
class RunReconstructionAdmin(admin.ModelAdmin):
    list_display = ["run", "reconstruction", "dataset"]
    list_filter = ["reconstruction"]
    search_fields = ["run__run_number", "dataset"]
    raw_id_fields = ["run"]
    list_select_related = ["run"]


@admin.register(ReferencePair)
class ReferencePairAdmin(admin.ModelAdmin):
    list_display = ["run_reconstruction", "reference", "source", "is_positive", "recorded_by", "recorded_at"]
    list_filter = ["source", "is_positive"]
    search_fields = ["run_reconstruction__run__run_number", "reference__run__run_number"]
    raw_id_fields = ["run_reconstruction", "reference", "recorded_by"]
    list_select_related = ["run_reconstruction__run", "reference__run", "recorded_by"]


@admin.register(CuratedReference)
class CuratedReferenceAdmin(admin.ModelAdmin):
    list_display = ["run_reconstruction", "run_class", "period", "active_from", "active_until"]
    list_filter = ["run_class", "period"]
    search_fields = ["run_reconstruction__run__run_number", "period", "notes"]
    autocomplete_fields = ["run_reconstruction"]
    list_select_related = ["run_reconstruction__run"]
