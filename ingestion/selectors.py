"""Reads of the OMS mirror. The recommender reads runs only through here."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, Min, Q, QuerySet

from .models import Lumisection, Run, TrackerCertification


def runs_filtered(
    *,
    run_class: str = "",
    run_min: int | None = None,
    run_max: int | None = None,
) -> QuerySet[Run]:
    runs = Run.objects.select_related("fill").order_by("-run_number")
    if run_class:
        runs = runs.filter(run_class=run_class)
    if run_min is not None:
        runs = runs.filter(run_number__gte=run_min)
    if run_max is not None:
        runs = runs.filter(run_number__lte=run_max)
    return runs


def lumisection_series(*, run_numbers: list[int]) -> dict[int, dict[str, list[tuple[int, float | None]]]]:
    """Per run, (LS number, value) lists of instantaneous luminosity and pileup, in one query."""
    series: dict[int, dict[str, list]] = defaultdict(lambda: {"init_lumi": [], "pileup": []})
    rows = (
        Lumisection.objects.filter(run__run_number__in=run_numbers)
        .order_by("run__run_number", "number")
        .values_list("run__run_number", "number", "init_lumi", "pileup")
    )
    for run_number, number, init_lumi, pileup in rows:
        series[run_number]["init_lumi"].append((number, init_lumi))
        series[run_number]["pileup"].append((number, pileup))
    return dict(series)


# The tracker's HV is on in a lumisection when every partition of the detector is ready.
STRIP_PARTITIONS = ("tibtid_ready", "tob_ready", "tecp_ready", "tecm_ready")
PIXEL_PARTITIONS = ("bpix_ready", "fpix_ready")


def _all(fields, value) -> Q:
    return Q(**{f"lumisections__{field}": value for field in fields})


def _known(fields) -> Q:
    return Q(**{f"lumisections__{field}__isnull": False for field in fields})


def lumisection_summaries(*, run_numbers) -> dict[int, dict]:
    """Per run of the mirror: its class and duration, how many lumisections it has, how
    many carry a luminosity and how many a non-zero one, and of those whose strip (pixel)
    HV flags are all known, how many have them all on. One query."""
    rows = (
        Run.objects.filter(run_number__in=list(run_numbers))
        .annotate(
            lumisection_count=Count("lumisections"),
            lumi_known=Count("lumisections", filter=Q(lumisections__init_lumi__isnull=False)),
            lumi_positive=Count("lumisections", filter=Q(lumisections__init_lumi__gt=0)),
            strip_known=Count("lumisections", filter=_known(STRIP_PARTITIONS)),
            strip_on=Count("lumisections", filter=_all(STRIP_PARTITIONS, True)),
            pixel_known=Count("lumisections", filter=_known(PIXEL_PARTITIONS)),
            pixel_on=Count("lumisections", filter=_all(PIXEL_PARTITIONS, True)),
        )
        .values(
            "run_number",
            "run_class",
            "duration",
            "lumisection_count",
            "lumi_known",
            "lumi_positive",
            "strip_known",
            "strip_on",
            "pixel_known",
            "pixel_on",
        )
    )
    return {row["run_number"]: row for row in rows}


def run_for_page(*, run_number: int) -> Run | None:
    """One run with its fill (the run page shows the fill's number and bunches)."""
    return Run.objects.select_related("fill").filter(run_number=run_number).first()


def run_ids(*, run_numbers) -> dict[int, int]:
    """Run number -> primary key, for the runs of `run_numbers` that are in the mirror."""
    return dict(Run.objects.filter(run_number__in=list(run_numbers)).values_list("run_number", "id"))


def run_beams() -> dict[int, str]:
    """Run number -> OMS fill type at run time (PROTONS, IONS, ...), for the runs that have one."""
    return dict(Run.objects.exclude(fill_type_runtime="").values_list("run_number", "fill_type_runtime"))


def run_starts(*, run_numbers) -> dict[int, object]:
    return dict(Run.objects.filter(run_number__in=list(run_numbers)).values_list("run_number", "start_time"))


def run_conditions(*, run_numbers) -> list[tuple[int, str, str, object]]:
    """(run number, run class, era, start time) of each run of `run_numbers` in the mirror."""
    return list(
        Run.objects.filter(run_number__in=list(run_numbers)).values_list("run_number", "run_class", "era", "start_time")
    )


def run_dataset_naming(*, run_numbers) -> dict[int, tuple[str, str, list[str]]]:
    """What names a run's DQM dataset (recommender.dqm_datasets): run number -> (run class,
    era, the DQMIO datasets DIALS lists for it) of each run of `run_numbers` in the
    mirror; a run OMS gave no era of its own takes its fill's."""
    rows = Run.objects.filter(run_number__in=list(run_numbers)).values_list(
        "run_number", "run_class", "era", "fill__era", "dqmio_datasets"
    )
    return {
        number: (run_class, era or fill_era or "", list(names or ()))
        for number, run_class, era, fill_era, names in rows
    }


def first_run_since(*, start_time) -> int | None:
    """The lowest run number that started at or after `start_time`."""
    return Run.objects.filter(start_time__gte=start_time).aggregate(first=Min("run_number"))["first"]


def runs_newest(*, limit: int, exclude_run_classes=()) -> list[tuple[int, int]]:
    """(id, run number) of the newest `limit` runs, skipping the given run classes."""
    runs = Run.objects.exclude(run_class__in=list(exclude_run_classes)).order_by("-run_number")
    return list(runs.values_list("id", "run_number")[:limit])


# The run features the recommender learns from, as the mirror holds them: each run's
# own value and its fill's, for the quantities where OMS gives the fill's when the run
# has none (recommender.selectors.run_features_frame applies the fallback).
RUN_FEATURE_FIELDS = {
    "run_number": "run_number",
    "run_class": "run_class",
    "start_time": "start_time",
    "duration": "duration",
    "ls_count": "last_lumisection_number",
    "fill_number": "fill__fill_number",
    "bunches_colliding": "fill__bunches_colliding",
    "init_lumi": "init_lumi",
    "end_lumi": "end_lumi",
    "delivered_lumi": "delivered_lumi",
    "recorded_lumi": "recorded_lumi",
    "energy": "energy",
    "fill_energy": "fill__energy",
    "b_field": "b_field",
    "fill_b_field": "fill__b_field",
    "apv_mode": "apv_mode",
    "pv_mean": "pv_mean",
    "pileup": "pileup_mean",
    "fill_peak_pileup": "fill__peak_pileup",
    "era": "era",
    "fill_era": "fill__era",
    "hlt_physics_rate": "hlt_physics_rate",
}


def run_feature_rows(*, run_numbers=None) -> list[tuple]:
    """One tuple per run, in the order of RUN_FEATURE_FIELDS, in one query (runs joined with their fill)."""
    runs = Run.objects.all()
    if run_numbers is not None:
        runs = runs.filter(run_number__in=list(run_numbers))
    return list(runs.values_list(*RUN_FEATURE_FIELDS.values()))


def run_rows_by_number(*, run_numbers) -> dict[int, dict]:
    """Run number -> its row of RUN_FEATURE_FIELDS as a dict: the run's own values, its
    fill's beside them, no fallback taken (the run page says which is which)."""
    return {
        row[0]: dict(zip(RUN_FEATURE_FIELDS, row, strict=True)) for row in run_feature_rows(run_numbers=run_numbers)
    }


def run_get(*, run_number: int) -> Run | None:
    return Run.objects.filter(run_number=run_number).first()


def runs_count() -> int:
    return Run.objects.count()


# --- The Run Registry's tracker certification ------------------------------------------

# Which dataset's flags stand for a run: prompt is the certification the masks record.
TRACKER_FLAG_PREFERENCE = ("prompt", "rerecoul", "rereco", "express")


def runregistry_datasets(*, reconstruction: str) -> QuerySet[TrackerCertification]:
    """The run datasets of `reconstruction` the Run Registry knows (with a state), for
    the work queue's subqueries (recommender.queue)."""
    return TrackerCertification.objects.filter(reconstruction=reconstruction).exclude(state="")


def tracker_flags(*, run_ids: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """Per run id, its tracker flags {"pixel", "strip", "tracking"} (None where unknown)
    from the preferred dataset that has any; runs without one are absent."""
    return _tracker_flags_best(TrackerCertification.objects.filter(run_id__in=list(run_ids)), key="run_id")


def tracker_flags_by_run_number(*, run_numbers: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """tracker_flags keyed by run number (the run page's candidate references)."""
    rows = TrackerCertification.objects.filter(run__run_number__in=list(run_numbers))
    return _tracker_flags_best(rows, key="run__run_number")


def _tracker_flags_best(rows: QuerySet[TrackerCertification], *, key: str) -> dict[int, dict[str, str | None]]:
    order = {reco: i for i, reco in enumerate(TRACKER_FLAG_PREFERENCE)}
    best: dict[int, tuple[int, dict[str, str | None]]] = {}
    for run, reco, pixel, strip, tracking in rows.values_list(key, "reconstruction", "pixel", "strip", "tracking"):
        if not (pixel or strip or tracking):
            continue
        rank = order.get(reco, len(order))
        if run not in best or rank < best[run][0]:
            best[run] = (rank, {"pixel": pixel or None, "strip": strip or None, "tracking": tracking or None})
    return {run: flags for run, (_, flags) in best.items()}


def good_lumisections_by_run(*, run_numbers: Iterable[int] | None = None) -> dict[int, int]:
    """Per run number, the lumisections the Run Registry has GOOD for the whole tracker,
    from the preferred dataset that counts them (the "certified good" feature where the
    certification masks do not reach)."""
    order = {reco: i for i, reco in enumerate(TRACKER_FLAG_PREFERENCE)}
    rows = TrackerCertification.objects.exclude(good_lumisections=None)
    if run_numbers is not None:
        rows = rows.filter(run__run_number__in=list(run_numbers))
    best: dict[int, tuple[int, int]] = {}
    for number, reco, good in rows.values_list("run__run_number", "reconstruction", "good_lumisections"):
        rank = order.get(reco, len(order))
        if number not in best or rank < best[number][0]:
            best[number] = (rank, good)
    return {number: good for number, (_, good) in best.items()}


def tracker_certification_of(*, run_id: int, reconstruction: str) -> TrackerCertification | None:
    """The run's certification for `reconstruction`'s dataset, else its preferred one."""
    rows = list(TrackerCertification.objects.filter(run_id=run_id))
    order = {reco: i for i, reco in enumerate(TRACKER_FLAG_PREFERENCE)}
    rows.sort(key=lambda c: (c.reconstruction != reconstruction, order.get(c.reconstruction, len(order)), c.dataset))
    return rows[0] if rows else None
