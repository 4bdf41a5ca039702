"""The record of every background job (syncs, imports, training).

Neutral ground: ingestion and recommender both record their jobs here, so this
app imports neither of them. Shift leaders read progress from these rows rather
than from Celery.
"""

from django.db import models


class JobKind(models.TextChoices):
    OMS_DUMP_IMPORT = "oms_dump_import", "OMS dump import"
    PAIRS_IMPORT = "pairs_import", "Certhelper pairs import"
    OMS_SYNC = "oms_sync", "OMS sync"
    CERTHELPER_SYNC = "certhelper_sync", "Certhelper sync"
    CONDITIONS_SYNC = "conditions_sync", "Conditions sync"
    TRAINING = "training", "Model training"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)


class Job(models.Model):
    """One import, sync or training job."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    kind = models.CharField(max_length=30, choices=JobKind.choices)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING)
    parameters = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Rejected rows: file, line, reason")
    message = models.TextField(blank=True)

    class Meta:
        # The table ingestion created when it owned the job record; kept so existing
        # databases keep their job history (see migrations/0001_initial.py).
        db_table = "ingestion_ingestionjob"
        ordering = ["-created_at"]
        indexes = [
            # Jobs page: the newest jobs of a kind.
            models.Index(fields=["kind", "-created_at"], name="job_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"
