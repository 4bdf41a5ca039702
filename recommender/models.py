"""What shifters decide and what the model says.

Vocabulary follows Certhelper (CMSTrackerDPG/certifier): a certified unit is a
`RunReconstruction` (run + reconstruction type), and a label is the reference
run reconstruction a shifter compared it with.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from ingestion.models import ApvMode, Run, RunClass, TimeStampedModel


class Reconstruction(models.TextChoices):
    ONLINE = "online", "Online"
    EXPRESS = "express", "Express"
    PROMPT = "prompt", "Prompt"
    RERECO = "rereco", "ReReco"
    RERECO_UL = "rerecoul", "ReReco UL"


class RunReconstruction(TimeStampedModel):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="reconstructions")
    reconstruction = models.CharField(max_length=10, choices=Reconstruction.choices)
    dataset = models.CharField(max_length=200, blank=True, help_text="DQM dataset, e.g. /Express/Cosmics2024/DQM")
    # A shift leader reopened it for a new decision (decision policy: policy.decision_state).
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-run__run_number", "reconstruction"]
        constraints = [
            models.UniqueConstraint(fields=["run", "reconstruction"], name="runreco_run_reconstruction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run.run_number} {self.reconstruction}"


class LabelSource(models.TextChoices):
    CERTHELPER = "certhelper", "Certhelper import"
    SHIFTER = "shifter", "Shifter feedback"


class ReferencePair(TimeStampedModel):
    """A training label: this run reconstruction was (or, if not positive, was
    not) to be compared with that reference run reconstruction."""

    run_reconstruction = models.ForeignKey(RunReconstruction, on_delete=models.CASCADE, related_name="labels")
    reference = models.ForeignKey(RunReconstruction, on_delete=models.PROTECT, related_name="used_as_reference")
    source = models.CharField(max_length=12, choices=LabelSource.choices)
    is_positive = models.BooleanField(default=True, help_text="False for a reference a shifter rejected")
    recorded_at = models.DateTimeField(help_text="When the choice was made (import time for Certhelper rows)")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Shifter labels only: the model that recommended, and the decision behind the label.
    model_version = models.ForeignKey("ModelVersion", null=True, blank=True, on_delete=models.SET_NULL)
    feedback = models.ForeignKey("Feedback", null=True, blank=True, on_delete=models.CASCADE, related_name="labels")

    class Meta:
        ordering = ["-run_reconstruction__run__run_number"]
        constraints = [
            # Certhelper holds one reference per run reconstruction: the import's natural key.
            models.UniqueConstraint(
                fields=["run_reconstruction"],
                condition=Q(source="certhelper"),
                name="pair_certhelper_one_per_runreco",
            ),
        ]
        indexes = [
            # Candidate generation: the references a group used, newest first.
            models.Index(fields=["source", "reference"], name="pair_source_reference_idx"),
        ]

    def __str__(self) -> str:
        sign = "→" if self.is_positive else "↛"
        return f"{self.run_reconstruction} {sign} {self.reference} ({self.source})"


class DeclaredReference(TimeStampedModel):
    """A shift leader's word, one row of the Twiki TrackerOfflineReferenceRuns: runs of
    this scope, from `from_run` on, are compared with this reference.

    The scope is a run class, a reconstruction and the conditions the reference is
    for; a blank condition means "any", and a run whose condition is unknown matches
    only "any". The newest matching declaration is rank 1 (recommender.ml.declarations).
    Nothing is deleted: a declaration ends (`until_run`), and who declared and ended
    it, and when, stays.
    """

    run_reconstruction = models.ForeignKey(
        RunReconstruction,
        on_delete=models.CASCADE,
        related_name="declarations",
        help_text="The reference: its run and the reconstruction to compare with",
    )
    run_class = models.CharField(max_length=20, choices=RunClass.choices)
    reconstruction = models.CharField(
        max_length=10, choices=Reconstruction.choices, blank=True, help_text="Of the runs it is for; blank: every one"
    )
    b_field_on = models.BooleanField(
        null=True, blank=True, help_text="Solenoid on (above 1 T, i.e. 3.8 T) or off (0 T); empty: any"
    )
    apv_mode = models.CharField(
        max_length=4, choices=ApvMode.choices, blank=True, help_text="Strip APV readout mode (cosmics); blank: any"
    )
    beam = models.CharField(
        max_length=40, blank=True, help_text="OMS fill type at run time, e.g. PROTONS, IONS; blank: any"
    )
    beam_energy = models.FloatField(null=True, blank=True, help_text="Beam energy, GeV, matched within 2%; empty: any")
    from_run = models.PositiveIntegerField(help_text="First run it applies to")
    until_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Last run it applied to; empty while in use"
    )
    note = models.TextField(blank=True)
    period = models.CharField(
        max_length=60, blank=True, help_text="Data-taking period or era, e.g. Run2018D, Cosmics2024"
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-from_run", "-created_at"]
        indexes = [
            # The references page and the admin: a class's declarations, newest first.
            models.Index(fields=["run_class", "-from_run"], name="declared_class_from_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(until_run__isnull=True) | Q(until_run__gte=models.F("from_run")),
                name="declared_until_not_before_from",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_reconstruction} for {self.get_run_class_display()} from run {self.from_run}"


class ModelVersionStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ArtifactStore(models.TextChoices):
    # Every web and worker pod reads the database; they share no filesystem.
    DATABASE = "database", "Database"
    FILES = "files", "File under MODEL_DIR"


class ModelVersion(TimeStampedModel):
    """One trained model: a joblib artifact and what it was made from.

    The artifact's bytes live in the database (ModelArtifact) or, for a one-machine
    demo, in a file under settings.MODEL_DIR (settings.MODEL_STORE picks one at
    training; each version remembers its own). It is only unpickled if its sha256
    and the library versions match (joblib files are pickles: same versions,
    trusted source only).
    """

    status = models.CharField(max_length=10, choices=ModelVersionStatus.choices, default=ModelVersionStatus.CANDIDATE)
    artifact = models.CharField(max_length=200, help_text="Artifact name (the file name under MODEL_DIR for files)")
    store = models.CharField(
        max_length=10, choices=ArtifactStore.choices, default=ArtifactStore.DATABASE, help_text="Where the bytes are"
    )
    sha256 = models.CharField(max_length=64)
    library_versions = models.JSONField(default=dict, help_text="python, sklearn, numpy, pandas, joblib")
    label_fingerprint = models.CharField(max_length=64, help_text="sha256 of the label set it was trained on")
    training_run_min = models.PositiveIntegerField(null=True, blank=True)
    training_run_max = models.PositiveIntegerField(null=True, blank=True)
    label_counts = models.JSONField(default=dict, blank=True, help_text="Labels by source and sign")
    evaluation = models.JSONField(default=dict, blank=True, help_text="Figures on the newest labels")
    activated_at = models.DateTimeField(null=True, blank=True)
    # Set by model_version_activate and never cleared: a version that ever served
    # recommendations is part of the record of what shifters were shown, so the admin
    # never deletes it (recommender.admin.ModelVersionAdmin).
    was_ever_active = models.BooleanField(default=False, editable=False, help_text="It served recommendations once")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one model serves recommendations.
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="modelversion_one_active"),
        ]

    def __str__(self) -> str:
        return f"Model #{self.pk} ({self.status})"


class ModelArtifact(models.Model):
    """The joblib bytes of a ModelVersion stored in the database (ArtifactStore.DATABASE).

    A table of its own so that the many reads of ModelVersion rows never fetch
    the bytes; they are read only to load the model.
    """

    model_version = models.OneToOneField(
        ModelVersion, primary_key=True, on_delete=models.CASCADE, related_name="stored_artifact"
    )
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Artifact of model #{self.model_version_id}"


class Recommendation(TimeStampedModel):
    """A reference the model proposed for a run reconstruction, with its reasons."""

    run_reconstruction = models.ForeignKey(RunReconstruction, on_delete=models.CASCADE, related_name="recommendations")
    reference = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="recommended_as_reference")
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run_reconstruction", "rank"]
        indexes = [
            # Run page: the latest recommendations of a run reconstruction.
            models.Index(fields=["run_reconstruction", "-created_at"], name="recommendation_runreco_idx"),
        ]
        constraints = [
            # One ranking per run reconstruction and model version: two refreshes (or a
            # refresh and a POST) storing at once cannot leave duplicate ranks. Its index
            # also serves the run page's and the runs page's reads of the stored ranking.
            models.UniqueConstraint(
                fields=["run_reconstruction", "model_version", "rank"], name="recommendation_unique_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_reconstruction} #{self.rank}: {self.reference}"


class Decision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Feedback(TimeStampedModel):
    """A shifter's accept or reject of a recommended reference.

    Rows are never edited: a later decision by the same user clears
    `is_current` on the earlier one, which stays as the audit trail.
    """

    run_reconstruction = models.ForeignKey(RunReconstruction, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    recommended_reference = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="+")
    alternative_reference = models.ForeignKey(
        Run, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The reference used instead"
    )
    reason = models.CharField(max_length=500, blank=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL)
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["run_reconstruction", "user"],
                condition=Q(is_current=True),
                name="feedback_one_current_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.decision} {self.recommended_reference} for {self.run_reconstruction}"


class ChangeCounter(models.Model):
    """A value rewritten by a database trigger on every change of one table
    (recommender.changes), so that each process's serving cache notices a change with
    one small read instead of an aggregate over the table."""

    name = models.CharField(max_length=40, primary_key=True, help_text="The counted table, e.g. runs, labels")
    value = models.BigIntegerField(help_text="Never the same twice: a sequence (PostgreSQL) or a random number")

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"
