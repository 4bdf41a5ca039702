"""RefRun's mirror of CMS OMS: fills, runs and lumisections.

Luminosities are stored in one canonical unit per quantity (below) whatever
the unit OMS used that year; the unit OMS sent is kept beside the value so a
shift leader can see what came in.
"""

from django.db import models

# Canonical units. OMS changed them over the years (10^30 before 2018, 10^34 for
# 2018 pp, 10^27 for heavy ions, 10^33 in Run 3); ingestion converts to these.
INSTANT_LUMI_UNIT = "10^{34}cm^{-2}s^{-1}"
INTEGRATED_LUMI_UNIT = "pb^{-1}"

# A lumisection is 2^18 LHC orbits.
LUMISECTION_SECONDS = 23.31

# The per-lumisection quantities and flags RefRun mirrors, under their OMS names.
LUMISECTION_VALUES = ("init_lumi", "end_lumi", "delivered_lumi", "recorded_lumi", "pileup")
LUMISECTION_FLAGS = (
    "physics_flag",
    "cms_active",
    "beam1_present",
    "beam2_present",
    "beam1_stable",
    "beam2_stable",
    "bpix_ready",
    "fpix_ready",
    "tibtid_ready",
    "tob_ready",
    "tecp_ready",
    "tecm_ready",
)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class RunClass(models.TextChoices):
    COLLISIONS_PP = "collisions_pp", "Collisions pp"
    HEAVY_ION = "heavy_ion", "Heavy ion"
    COSMICS = "cosmics", "Cosmics"
    COMMISSIONING = "commissioning", "Commissioning"
    SPECIAL = "special", "Special"


class RunClassSource(models.TextChoices):
    OMS = "oms", "OMS attributes"
    DATASET = "dataset", "Dataset name"
    UNKNOWN = "", "Unknown"


class ApvMode(models.TextChoices):
    DECO = "DECO", "Deconvolution"
    PEAK = "PEAK", "Peak"


class Fill(TimeStampedModel):
    fill_number = models.PositiveIntegerField(unique=True, help_text="LHC fill number")
    start_time = models.DateTimeField(null=True, blank=True, help_text="Fill creation time (UTC)")
    end_time = models.DateTimeField(null=True, blank=True)
    start_stable_beam = models.DateTimeField(null=True, blank=True)
    end_stable_beam = models.DateTimeField(null=True, blank=True)
    duration = models.IntegerField(
        null=True, blank=True, help_text="Stable-beam duration, s (as OMS defines it for fills)"
    )
    bunches_colliding = models.IntegerField(null=True, blank=True, help_text="Colliding bunch pairs")
    bunches_target = models.IntegerField(null=True, blank=True)
    injection_scheme = models.CharField(max_length=120, blank=True)
    init_lumi = models.FloatField(
        null=True, blank=True, help_text=f"Initial instantaneous luminosity, {INSTANT_LUMI_UNIT}"
    )
    init_lumi_source_unit = models.CharField(max_length=40, blank=True, help_text="Unit OMS reported")
    peak_lumi = models.FloatField(
        null=True, blank=True, help_text=f"Peak instantaneous luminosity, {INSTANT_LUMI_UNIT}"
    )
    peak_lumi_source_unit = models.CharField(max_length=40, blank=True, help_text="Unit OMS reported")
    peak_pileup = models.FloatField(null=True, blank=True, help_text="Peak mean inelastic interactions per crossing")
    delivered_lumi = models.FloatField(null=True, blank=True, help_text=f"Delivered luminosity, {INTEGRATED_LUMI_UNIT}")
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=f"Recorded luminosity, {INTEGRATED_LUMI_UNIT}")
    integrated_lumi_source_unit = models.CharField(max_length=40, blank=True, help_text="Unit OMS reported")
    energy = models.FloatField(null=True, blank=True, help_text="Beam energy, GeV")
    b_field = models.FloatField(null=True, blank=True, help_text="Solenoid field, T")
    fill_type_runtime = models.CharField(max_length=40, blank=True, help_text="e.g. PROTONS, IONS, COSMICS")
    fill_type_party1 = models.CharField(max_length=20, blank=True)
    fill_type_party2 = models.CharField(max_length=20, blank=True)
    era = models.CharField(max_length=60, blank=True, help_text="e.g. Run2018A, Commissioning2024")
    first_run_number = models.PositiveIntegerField(null=True, blank=True)
    last_run_number = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-fill_number"]

    def __str__(self) -> str:
        return f"Fill {self.fill_number}"


class Run(TimeStampedModel):
    run_number = models.PositiveIntegerField(unique=True)
    fill = models.ForeignKey(Fill, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    start_time = models.DateTimeField(null=True, blank=True, help_text="UTC")
    end_time = models.DateTimeField(null=True, blank=True, help_text="UTC; empty while the run is open")
    duration = models.IntegerField(null=True, blank=True, help_text="Run duration, s")
    init_lumi = models.FloatField(
        null=True, blank=True, help_text=f"Instantaneous luminosity at run start, {INSTANT_LUMI_UNIT}"
    )
    end_lumi = models.FloatField(
        null=True, blank=True, help_text=f"Instantaneous luminosity at run end, {INSTANT_LUMI_UNIT}"
    )
    instant_lumi_source_unit = models.CharField(
        max_length=40, blank=True, help_text="Unit OMS reported for init/end lumi"
    )
    delivered_lumi = models.FloatField(null=True, blank=True, help_text=f"Delivered luminosity, {INTEGRATED_LUMI_UNIT}")
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=f"Recorded luminosity, {INTEGRATED_LUMI_UNIT}")
    integrated_lumi_source_unit = models.CharField(max_length=40, blank=True, help_text="Unit OMS reported")
    b_field = models.FloatField(null=True, blank=True, help_text="Solenoid field, T (3.8 on, ~0 off)")
    energy = models.FloatField(null=True, blank=True, help_text="Beam energy, GeV (0 without beam)")
    l1_hlt_mode = models.CharField(max_length=80, blank=True, help_text="e.g. collisions2018, cosmics2024")
    hlt_key = models.CharField(max_length=200, blank=True)
    sequence = models.CharField(max_length=40, blank=True, help_text="GLOBAL-RUN for global runs")
    components = models.JSONField(default=list, blank=True, help_text="Subsystems in the run")
    stable_beam = models.BooleanField(null=True, blank=True)
    fill_type_runtime = models.CharField(max_length=40, blank=True)
    era = models.CharField(max_length=60, blank=True)
    last_lumisection_number = models.PositiveIntegerField(null=True, blank=True)
    l1_rate = models.FloatField(null=True, blank=True, help_text="Hz")
    hlt_physics_rate = models.FloatField(null=True, blank=True, help_text="Hz")
    hlt_physics_counter = models.BigIntegerField(null=True, blank=True, help_text="Events")
    apv_mode = models.CharField(
        max_length=4, choices=ApvMode.choices, blank=True, help_text="Strip APV readout mode (cosmics)"
    )
    pv_mean = models.FloatField(null=True, blank=True, help_text="Mean reconstructed primary vertices per event (DQM)")
    pileup_mean = models.FloatField(null=True, blank=True, help_text="Mean pileup over the run's lumisections")
    run_class = models.CharField(max_length=20, choices=RunClass.choices, blank=True)
    run_class_source = models.CharField(max_length=10, choices=RunClassSource.choices, blank=True)
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


class Lumisection(models.Model):
    """One lumisection of a run, as OMS reports it.

    Only a surrogate id and a unique (run, number) index beyond the values: a
    year of data is a few million rows, and a run's page loads its whole
    lumisection list with one index range scan.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="lumisections")
    number = models.PositiveIntegerField(help_text="Lumisection number, from 1")
    init_lumi = models.FloatField(null=True, blank=True, help_text=f"{INSTANT_LUMI_UNIT}")
    end_lumi = models.FloatField(null=True, blank=True, help_text=f"{INSTANT_LUMI_UNIT}")
    delivered_lumi = models.FloatField(
        null=True, blank=True, help_text=f"Cumulative since LS 1, {INTEGRATED_LUMI_UNIT}"
    )
    recorded_lumi = models.FloatField(null=True, blank=True, help_text=f"Cumulative since LS 1, {INTEGRATED_LUMI_UNIT}")
    pileup = models.FloatField(null=True, blank=True, help_text="Mean pileup in the lumisection")
    physics_flag = models.BooleanField(null=True)
    cms_active = models.BooleanField(null=True)
    beam1_present = models.BooleanField(null=True)
    beam2_present = models.BooleanField(null=True)
    beam1_stable = models.BooleanField(null=True)
    beam2_stable = models.BooleanField(null=True)
    bpix_ready = models.BooleanField(null=True, help_text="DCS: barrel pixel HV on")
    fpix_ready = models.BooleanField(null=True, help_text="DCS: forward pixel HV on")
    tibtid_ready = models.BooleanField(null=True, help_text="DCS: TIB/TID HV on")
    tob_ready = models.BooleanField(null=True, help_text="DCS: TOB HV on")
    tecp_ready = models.BooleanField(null=True, help_text="DCS: TEC+ HV on")
    tecm_ready = models.BooleanField(null=True, help_text="DCS: TEC- HV on")

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            # Natural key of the upsert, and the index the run page's LS plot scans.
            models.UniqueConstraint(fields=["run", "number"], name="lumisection_run_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.number}"


class JobKind(models.TextChoices):
    OMS_DUMP_IMPORT = "oms_dump_import", "OMS dump import"
    PAIRS_IMPORT = "pairs_import", "Certhelper pairs import"
    OMS_SYNC = "oms_sync", "OMS sync"
    CERTHELPER_SYNC = "certhelper_sync", "Certhelper sync"
    TRAINING = "training", "Model training"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class IngestionJob(TimeStampedModel):
    """One import, sync or training job, so shift leaders read progress from the
    database rather than from Celery."""

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
        ordering = ["-created_at"]
        indexes = [
            # Jobs page: the newest jobs of a kind.
            models.Index(fields=["kind", "-created_at"], name="job_kind_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"


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
    job = models.ForeignKey(IngestionJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="chunks")
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
