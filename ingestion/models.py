"""RefRun's mirror of CMS OMS: fills, runs and lumisections.

Which quantities are mirrored, their help texts, lengths and units come from
the catalogue (ingestion.quantities): add a quantity there, then its field here.
"""

from django.db import models

from . import run_classes
from .quantities import (
    FILL,
    INSTANT_LUMI_UNIT,
    INTEGRATED_LUMI_UNIT,
    LUMISECTION,
    RUN,
    help_text,
    lumisection_flags,
    lumisection_values,
    max_length,
)

__all__ = ["INSTANT_LUMI_UNIT", "INTEGRATED_LUMI_UNIT"]  # canonical units, defined with the catalogue

# A lumisection is 2^18 LHC orbits.
LUMISECTION_SECONDS = 23.31

# The per-lumisection quantities and flags RefRun mirrors, under their OMS names.
LUMISECTION_VALUES = lumisection_values()
LUMISECTION_FLAGS = lumisection_flags()


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class RunClass(models.TextChoices):
    COLLISIONS_PP = run_classes.COLLISIONS_PP, "Collisions pp"
    HEAVY_ION = run_classes.HEAVY_ION, "Heavy ion"
    COSMICS = run_classes.COSMICS, "Cosmics"
    COMMISSIONING = run_classes.COMMISSIONING, "Commissioning"
    SPECIAL = run_classes.SPECIAL, "Special"


class RunClassSource(models.TextChoices):
    OMS = "oms", "OMS attributes"
    DATASET = "dataset", "Dataset name"
    COSMICS_COUNTER = "counter", "Tracker cosmics counter"
    UNKNOWN = "", "Unknown"


class ApvMode(models.TextChoices):
    DECO = "DECO", "Deconvolution"
    PEAK = "PEAK", "Peak"


class Fill(TimeStampedModel):
    fill_number = models.PositiveIntegerField(unique=True, help_text="LHC fill number")
    start_time = models.DateTimeField(null=True, blank=True, help_text=help_text(FILL, "start_time"))
    end_time = models.DateTimeField(null=True, blank=True, help_text=help_text(FILL, "end_time"))
    start_stable_beam = models.DateTimeField(null=True, blank=True, help_text=help_text(FILL, "start_stable_beam"))
    end_stable_beam = models.DateTimeField(null=True, blank=True, help_text=help_text(FILL, "end_stable_beam"))
    duration = models.IntegerField(null=True, blank=True, help_text=help_text(FILL, "duration"))
    bunches_colliding = models.IntegerField(null=True, blank=True, help_text=help_text(FILL, "bunches_colliding"))
    bunches_target = models.IntegerField(null=True, blank=True, help_text=help_text(FILL, "bunches_target"))
    injection_scheme = models.CharField(
        blank=True, max_length=max_length(FILL, "injection_scheme"), help_text=help_text(FILL, "injection_scheme")
    )
    init_lumi = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "init_lumi"))
    init_lumi_source_unit = models.CharField(
        blank=True,
        max_length=max_length(FILL, "init_lumi_source_unit"),
        help_text=help_text(FILL, "init_lumi_source_unit"),
    )
    peak_lumi = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "peak_lumi"))
    peak_lumi_source_unit = models.CharField(
        blank=True,
        max_length=max_length(FILL, "peak_lumi_source_unit"),
        help_text=help_text(FILL, "peak_lumi_source_unit"),
    )
    peak_pileup = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "peak_pileup"))
    delivered_lumi = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "delivered_lumi"))
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "recorded_lumi"))
    integrated_lumi_source_unit = models.CharField(
        blank=True,
        max_length=max_length(FILL, "integrated_lumi_source_unit"),
        help_text=help_text(FILL, "integrated_lumi_source_unit"),
    )
    energy = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "energy"))
    b_field = models.FloatField(null=True, blank=True, help_text=help_text(FILL, "b_field"))
    fill_type_runtime = models.CharField(
        blank=True, max_length=max_length(FILL, "fill_type_runtime"), help_text=help_text(FILL, "fill_type_runtime")
    )
    fill_type_party1 = models.CharField(
        blank=True, max_length=max_length(FILL, "fill_type_party1"), help_text=help_text(FILL, "fill_type_party1")
    )
    fill_type_party2 = models.CharField(
        blank=True, max_length=max_length(FILL, "fill_type_party2"), help_text=help_text(FILL, "fill_type_party2")
    )
    era = models.CharField(blank=True, max_length=max_length(FILL, "era"), help_text=help_text(FILL, "era"))
    first_run_number = models.PositiveIntegerField(null=True, blank=True, help_text=help_text(FILL, "first_run_number"))
    last_run_number = models.PositiveIntegerField(null=True, blank=True, help_text=help_text(FILL, "last_run_number"))

    class Meta:
        ordering = ["-fill_number"]

    def __str__(self) -> str:
        return f"Fill {self.fill_number}"


class Run(TimeStampedModel):
    run_number = models.PositiveIntegerField(unique=True)
    fill = models.ForeignKey(Fill, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    start_time = models.DateTimeField(null=True, blank=True, help_text=help_text(RUN, "start_time"))
    end_time = models.DateTimeField(null=True, blank=True, help_text=help_text(RUN, "end_time"))
    duration = models.IntegerField(null=True, blank=True, help_text=help_text(RUN, "duration"))
    init_lumi = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "init_lumi"))
    end_lumi = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "end_lumi"))
    instant_lumi_source_unit = models.CharField(
        blank=True,
        max_length=max_length(RUN, "instant_lumi_source_unit"),
        help_text=help_text(RUN, "instant_lumi_source_unit"),
    )
    delivered_lumi = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "delivered_lumi"))
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "recorded_lumi"))
    integrated_lumi_source_unit = models.CharField(
        blank=True,
        max_length=max_length(RUN, "integrated_lumi_source_unit"),
        help_text=help_text(RUN, "integrated_lumi_source_unit"),
    )
    b_field = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "b_field"))
    energy = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "energy"))
    l1_hlt_mode = models.CharField(
        blank=True, max_length=max_length(RUN, "l1_hlt_mode"), help_text=help_text(RUN, "l1_hlt_mode")
    )
    hlt_key = models.CharField(blank=True, max_length=max_length(RUN, "hlt_key"), help_text=help_text(RUN, "hlt_key"))
    sequence = models.CharField(
        blank=True, max_length=max_length(RUN, "sequence"), help_text=help_text(RUN, "sequence")
    )
    components = models.JSONField(default=list, blank=True, help_text=help_text(RUN, "components"))
    stable_beam = models.BooleanField(null=True, blank=True, help_text=help_text(RUN, "stable_beam"))
    fill_type_runtime = models.CharField(
        blank=True, max_length=max_length(RUN, "fill_type_runtime"), help_text=help_text(RUN, "fill_type_runtime")
    )
    era = models.CharField(blank=True, max_length=max_length(RUN, "era"), help_text=help_text(RUN, "era"))
    last_lumisection_number = models.PositiveIntegerField(
        null=True, blank=True, help_text=help_text(RUN, "last_lumisection_number")
    )
    l1_rate = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "l1_rate"))
    hlt_physics_rate = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "hlt_physics_rate"))
    hlt_physics_counter = models.BigIntegerField(null=True, blank=True, help_text=help_text(RUN, "hlt_physics_counter"))
    apv_mode = models.CharField(
        choices=ApvMode.choices,
        blank=True,
        max_length=max_length(RUN, "apv_mode"),
        help_text=help_text(RUN, "apv_mode"),
    )
    apv_mode_asked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the APV mode service was last asked about this run and knew no mode "
        "(asked again only APV_MODE_RETRY_HOURS later)",
    )
    pv_mean = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "pv_mean"))
    dqmio_datasets = models.JSONField(
        default=list,
        blank=True,
        help_text="The DQMIO datasets DIALS lists for the run (the DQM GUI's dataset names), sorted",
    )
    pileup_mean = models.FloatField(null=True, blank=True, help_text=help_text(RUN, "pileup_mean"))
    run_class = models.CharField(max_length=20, choices=RunClass.choices, blank=True)
    run_class_source = models.CharField(max_length=10, choices=RunClassSource.choices, blank=True)
    # From the Run Registry (ingestion.services.runregistry_sync).
    runregistry_class = models.CharField(
        max_length=40, blank=True, help_text="The Run Registry's run class, e.g. Collisions18, Cosmics24"
    )
    significant = models.BooleanField(
        null=True, blank=True, help_text="The Run Registry marks the run significant (worth certifying)"
    )
    # Which dump or service each group of attributes came from; a shift leader
    # questioning a value can trace it.
    sources = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-run_number"]
        indexes = [
            # Runs page filter and candidate selection: runs of a class, newest first.
            models.Index(fields=["run_class", "-run_number"], name="run_class_number_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.run_number}"


class DatasetState(models.TextChoices):
    """A Run Registry dataset's state in offline certification."""

    OPEN = "OPEN", "Open"
    SIGNOFF = "SIGNOFF", "Signed off"
    COMPLETED = "COMPLETED", "Completed"
    WAITING_DQM_GUI = "waiting dqm gui", "Waiting for the DQM GUI"


class ComponentStatus(models.TextChoices):
    """A Run Registry lumisection status, and a component's flag for a dataset."""

    GOOD = "GOOD", "Good"
    BAD = "BAD", "Bad"
    STANDBY = "STANDBY", "Standby"
    EXCLUDED = "EXCLUDED", "Excluded"
    NOTSET = "NOTSET", "Not set"


class TrackerCertification(TimeStampedModel):
    """The tracker's certification of one run's dataset, as the Run Registry has it.

    A flag is GOOD when the component has good lumisections in the dataset, else
    its most frequent other status; "" when the Run Registry gave none.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tracker_certifications")
    dataset = models.CharField(
        max_length=200, help_text="Run Registry dataset name, e.g. /PromptReco/Collisions2018A/DQM"
    )
    reconstruction = models.CharField(
        max_length=10, blank=True, help_text="express, prompt, rereco or rerecoul, from the dataset name"
    )
    state = models.CharField(max_length=20, choices=DatasetState.choices, blank=True)
    pixel = models.CharField(max_length=10, choices=ComponentStatus.choices, blank=True, help_text="tracker-pixel")
    strip = models.CharField(max_length=10, choices=ComponentStatus.choices, blank=True, help_text="tracker-strip")
    tracking = models.CharField(max_length=10, choices=ComponentStatus.choices, blank=True, help_text="tracker-track")
    good_lumisections = models.PositiveIntegerField(
        null=True, blank=True, help_text="Lumisections GOOD for pixel, strip and tracking together"
    )
    lumisections = models.PositiveIntegerField(
        null=True, blank=True, help_text="Lumisections the Run Registry lists for the dataset"
    )

    class Meta:
        ordering = ["-run__run_number", "dataset"]
        constraints = [
            # The natural key of the Run Registry sync's upsert.
            models.UniqueConstraint(fields=["run", "dataset"], name="trackercert_run_dataset_unique"),
        ]
        indexes = [
            # The work queue: open datasets of a reconstruction (recommender.queue).
            models.Index(fields=["reconstruction", "state"], name="trackercert_reco_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.dataset}"

    @property
    def good_fraction(self) -> float | None:
        if self.good_lumisections is None or not self.lumisections:
            return None
        return self.good_lumisections / self.lumisections


class Lumisection(models.Model):
    """One lumisection of a run, as OMS reports it.

    Only a surrogate id and a unique (run, number) index beyond the values: a
    year of data is a few million rows, and a run's page loads its whole
    lumisection list with one index range scan.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="lumisections")
    number = models.PositiveIntegerField(help_text="Lumisection number, from 1")
    init_lumi = models.FloatField(null=True, blank=True, help_text=help_text(LUMISECTION, "init_lumi"))
    end_lumi = models.FloatField(null=True, blank=True, help_text=help_text(LUMISECTION, "end_lumi"))
    delivered_lumi = models.FloatField(null=True, blank=True, help_text=help_text(LUMISECTION, "delivered_lumi"))
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=help_text(LUMISECTION, "recorded_lumi"))
    pileup = models.FloatField(null=True, blank=True, help_text=help_text(LUMISECTION, "pileup"))
    physics_flag = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "physics_flag"))
    cms_active = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "cms_active"))
    beam1_present = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "beam1_present"))
    beam2_present = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "beam2_present"))
    beam1_stable = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "beam1_stable"))
    beam2_stable = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "beam2_stable"))
    bpix_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "bpix_ready"))
    fpix_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "fpix_ready"))
    tibtid_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "tibtid_ready"))
    tob_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "tob_ready"))
    tecp_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "tecp_ready"))
    tecm_ready = models.BooleanField(null=True, help_text=help_text(LUMISECTION, "tecm_ready"))

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            # Natural key of the upsert, and the index the run page's LS plot scans.
            models.UniqueConstraint(fields=["run", "number"], name="lumisection_run_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.number}"


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class SyncChunk(models.Model):
    """A range of run numbers one worker syncs at a time.

    A worker claims a chunk with a conditional update (pending, failed, done by an
    earlier job, or running with an expired claim -> running, claimed by me until
    T) and goes on only if exactly one row changed. The claim is extended after
    every run, so a short expiry is safe: a worker killed mid-chunk stops
    extending it, and another worker re-claims the chunk soon after.
    """

    kind = models.CharField(max_length=30, help_text="What is synced, e.g. oms_runs")
    first_run = models.PositiveIntegerField()
    last_run = models.PositiveIntegerField()
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="chunks")
    status = models.CharField(max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="Claim token of the worker holding it")
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    runs_done = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "first_run"]
        constraints = [
            # The claim's natural key: two syncs of the same range meet on the same row.
            models.UniqueConstraint(fields=["kind", "first_run", "last_run"], name="syncchunk_kind_range_unique"),
        ]
        indexes = [
            # Job progress: the chunks of a job and their status.
            models.Index(fields=["job", "status"], name="syncchunk_job_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.first_run}-{self.last_run} ({self.status})"


class SyncState(models.Model):
    """Where each incremental sync stands, one row per source."""

    key = models.CharField(max_length=30, unique=True, help_text="oms_runs or certhelper")
    high_water_run = models.PositiveIntegerField(
        null=True, blank=True, help_text="Newest run fully ingested with every run before it in the window"
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Last call made to the service")
    last_success_at = models.DateTimeField(null=True, blank=True, help_text="Last call that was imported")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.key} (high water {self.high_water_run})"
