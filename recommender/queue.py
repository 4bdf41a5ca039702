"""The work queue: which run reconstructions await a shifter's decision.

Written once, here, as query filters on runs; the runs page's counts, its "awaiting"
filter, the landing page and the run a shifter goes on to after a decision all use
`awaiting` (through recommender.selectors), so they cannot disagree.

A run reconstruction awaits a decision when its dataset is open for offline
certification (`open_for_certification`) and nobody has decided it: no current
decision in RefRun and no Certhelper label.

Open for certification. The Run Registry says so per dataset (state OPEN in the
TRACKER workspace, stored by ingestion.services.runregistry_sync): where it knows a
dataset of the run reconstruction, the run is open iff one of them is OPEN (SIGNOFF
and COMPLETED are done). A run it marks not significant (`Run.significant` false)
is not certified offline: it is never open, whatever its datasets. Where it knows
none (no Run Registry configured, or a run it has not reached), the fallback rule
stands in for it, all of:

- the tracker is in the run: OMS lists TRACKER (strips) or PIXEL among its components
  (a run whose components OMS did not give is not queued);
- it has at least `settings.REFRUN_QUEUE_MIN_LUMISECTIONS` lumisections (default 10,
  about 4 minutes): test runs of a few lumisections are not certified;
- there is a dataset to certify: RefRun knows the run reconstruction's DQM dataset
  (from Certhelper, or the simulation standing in for the Run Registry), or the run
  is newer than the newest run with a known dataset of that reconstruction (the
  dataset source has not reached it yet) and of a class whose runs get express and
  prompt datasets (pp and heavy-ion collisions, cosmics, commissioning; special runs
  only once a dataset is named for them). Older runs without a dataset are ones the
  dataset source passed over: never opened, not awaiting.
"""

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from ingestion.models import DatasetState, RunClass
from ingestion.selectors import runregistry_datasets

from .models import Feedback, LabelSource, ReferencePair, RunReconstruction

# Dataset names that name no dataset (Certhelper writes the second for a run not reconstructed yet).
PLACEHOLDER_DATASETS = ("", "To Be Defined")
# OMS component names of the tracker's two detectors.
TRACKER_COMPONENTS = ("TRACKER", "PIXEL")
# Run classes whose runs get express and prompt DQM datasets the tracker shift certifies.
DATASET_RUN_CLASSES = (RunClass.COLLISIONS_PP, RunClass.HEAVY_ION, RunClass.COSMICS, RunClass.COMMISSIONING)


def _tracker_in() -> Q:
    # components is a JSON list; matching the quoted name in its text works on
    # SQLite and PostgreSQL alike (a JSON "contains" lookup does not exist on SQLite).
    q = Q()
    for name in TRACKER_COMPONENTS:
        q |= Q(components__icontains=f'"{name}"')
    return q


def _with_dataset(reconstruction: str):
    return RunReconstruction.objects.filter(reconstruction=reconstruction).exclude(dataset__in=PLACEHOLDER_DATASETS)


def _newest_run_with_dataset(reconstruction: str):
    """The run number of the newest run reconstruction with a known dataset (0 for none)."""
    newest = _with_dataset(reconstruction).order_by("-run__run_number").values("run__run_number")[:1]
    return Coalesce(Subquery(newest), Value(0))


def _fallback_open(reconstruction: str) -> Q:
    """The rule of the module docstring for runs the Run Registry does not know."""
    known_dataset = Exists(_with_dataset(reconstruction).filter(run=OuterRef("pk")))
    not_reached_yet = Q(run_number__gt=_newest_run_with_dataset(reconstruction)) & Q(run_class__in=DATASET_RUN_CLASSES)
    return (
        _tracker_in()
        & Q(last_lumisection_number__gte=settings.REFRUN_QUEUE_MIN_LUMISECTIONS)
        & (Q(known_dataset) | not_reached_yet)
    )


def open_for_certification(reconstruction: str) -> Q:
    """Runs whose `reconstruction` dataset is open for offline certification: the Run
    Registry's state where it knows the dataset, else the fallback rule; never a run
    the Run Registry marks not significant (unknown significance is no objection)."""
    datasets = runregistry_datasets(reconstruction=reconstruction).filter(run=OuterRef("pk"))
    known = Q(Exists(datasets))
    is_open = Q(Exists(datasets.filter(state=DatasetState.OPEN)))
    significant = Q(significant__isnull=True) | Q(significant=True)
    return significant & ((known & is_open) | (~known & _fallback_open(reconstruction)))


def decided(reconstruction: str) -> Q:
    """Runs with a current decision in RefRun or a Certhelper label for `reconstruction`."""
    feedback, certhelper = decisions_of_run([reconstruction])
    return Q(Exists(feedback)) | Q(Exists(certhelper))


def decisions_of_run(reconstructions: list[str]) -> tuple[QuerySet[Feedback], QuerySet[ReferencePair]]:
    """Subqueries on the outer run (`OuterRef("pk")` of a Run queryset): its current
    decisions in RefRun, and its Certhelper labels, for any of `reconstructions`."""
    feedback = Feedback.objects.filter(
        run_reconstruction__run=OuterRef("pk"), run_reconstruction__reconstruction__in=reconstructions, is_current=True
    )
    certhelper = ReferencePair.objects.filter(
        run_reconstruction__run=OuterRef("pk"),
        run_reconstruction__reconstruction__in=reconstructions,
        source=LabelSource.CERTHELPER,
    )
    return feedback, certhelper


def awaiting(reconstruction: str) -> Q:
    """Runs whose `reconstruction` awaits a decision: open for certification, not decided."""
    return open_for_certification(reconstruction) & ~decided(reconstruction)
