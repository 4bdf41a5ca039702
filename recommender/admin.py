from django.contrib import admin, messages

from .exceptions import ModelArtifactError
from .models import CuratedReference, Feedback, ModelVersion, ReferencePair, RunReconstruction
from .training import artifact_load, model_version_activate


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


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "created_at", "activated_at", "training_run_min", "training_run_max", "short_sha"]
    list_filter = ["status", "store"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate"]

    @admin.display(description="sha256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]

    @admin.action(description="Activate the selected version (retires the active one; use it to roll back)")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", level=messages.ERROR)
            return
        version = queryset.get()
        try:
            # The artifact must load here (hash, library versions) before it serves anyone.
            artifact_load(version)
        except ModelArtifactError as error:
            self.message_user(request, f"Not activated: {error}", level=messages.ERROR)
            return
        model_version_activate(model_version_id=version.pk)
        self.message_user(request, f"Model #{version.pk} is now active.")

    def has_add_permission(self, request):
        return False


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """The audit trail of shifters' decisions: read-only."""

    list_display = [
        "run_reconstruction",
        "user",
        "decision",
        "recommended_reference",
        "alternative_reference",
        "is_current",
        "created_at",
    ]
    list_filter = ["decision", "is_current"]
    search_fields = ["run_reconstruction__run__run_number", "user__username", "reason"]
    list_select_related = ["run_reconstruction__run", "user", "recommended_reference", "alternative_reference"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
