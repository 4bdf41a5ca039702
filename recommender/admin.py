from django import forms
from django.contrib import admin, messages

from . import services
from .artifacts import artifact_load
from .exceptions import InvalidDeclaration, ModelArtifactError
from .models import (
    DeclaredReference,
    Feedback,
    LabelSource,
    ModelVersion,
    ModelVersionStatus,
    ReferencePair,
    RunReconstruction,
)
from .training import model_version_activate


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

    def has_delete_permission(self, request, obj=None):
        # A shifter's label is their decision, part of the audit trail: nobody deletes it
        # (a bulk delete that selects one, or that cascades to one, is refused as a whole).
        # Certhelper's labels can be: a bad import is cleaned up and imported again.
        if obj is not None and obj.source == LabelSource.SHIFTER:
            return False
        return super().has_delete_permission(request, obj)


class DeclaredReferenceAddForm(forms.ModelForm):
    """A new declaration names its reference by run number, as the Twiki does."""

    reference_run_number = forms.IntegerField(min_value=1, label="Reference run")

    class Meta:
        model = DeclaredReference
        fields = [
            "reference_run_number",
            "reconstruction",
            "run_class",
            "from_run",
            "b_field_on",
            "apv_mode",
            "beam",
            "beam_energy",
            "note",
            "period",
        ]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("reconstruction"):
            self.add_error("reconstruction", "Name the reference's reconstruction.")
            return cleaned
        try:
            services.declaration_check(
                run_number=cleaned.get("reference_run_number") or 0,
                reconstruction=cleaned["reconstruction"],
                run_class=cleaned.get("run_class") or "",
                from_run=cleaned.get("from_run") or 0,
                apv_mode=cleaned.get("apv_mode") or "",
                beam_energy=cleaned.get("beam_energy"),
            )
        except InvalidDeclaration as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(DeclaredReference)
class DeclaredReferenceAdmin(admin.ModelAdmin):
    """The shift leaders' declarations. A new one and an end go through the services, so
    that the rankings of the runs in scope follow at once; nothing is ever deleted."""

    list_display = ["run_reconstruction", "run_class", "reconstruction", "from_run", "until_run", "declared_by"]
    list_filter = ["run_class", "reconstruction", "apv_mode", "b_field_on"]
    search_fields = ["run_reconstruction__run__run_number", "period", "note"]
    list_select_related = ["run_reconstruction__run", "declared_by"]
    # Once declared, only the end (until_run) and the words change.
    editable_on_change = ("until_run", "note", "period")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DeclaredReferenceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return DeclaredReferenceAddForm.Meta.fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in DeclaredReference._meta.fields if f.name not in self.editable_on_change]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            declared = services.declared_reference_declare(
                user=request.user,
                run_number=data["reference_run_number"],
                reconstruction=data["reconstruction"],
                run_class=data["run_class"],
                from_run=data["from_run"],
                note=data.get("note") or "",
                b_field_on=data.get("b_field_on"),
                apv_mode=data.get("apv_mode") or "",
                beam=data.get("beam") or "",
                beam_energy=data.get("beam_energy"),
                period=data.get("period") or "",
            )
            obj.pk, obj.run_reconstruction = declared.pk, declared.run_reconstruction
            return
        ending = "until_run" in form.changed_data and data.get("until_run") is not None
        words_changed = [name for name in ("note", "period") if name in form.changed_data]
        if words_changed:
            DeclaredReference.objects.filter(pk=obj.pk).update(**{name: data[name] for name in words_changed})
        if ending:
            try:
                services.declared_reference_end(user=request.user, declaration_id=obj.pk, until_run=data["until_run"])
            except InvalidDeclaration as error:
                self.message_user(request, f"Not ended: {error}", level=messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "created_at",
        "activated_at",
        "was_ever_active",
        "training_run_min",
        "training_run_max",
        "short_sha",
    ]
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

    def has_delete_permission(self, request, obj=None):
        # A version that served recommendations is what shifters' decisions refer to:
        # never deleted, by anyone. A candidate never activated may go.
        if obj is not None and (obj.was_ever_active or obj.status != ModelVersionStatus.CANDIDATE):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """The audit trail of shifters' decisions: read-only, and deleted by nobody (superusers
    included; deleting what they belong to, a run reconstruction, is refused too)."""

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

    def has_delete_permission(self, request, obj=None):
        return False
