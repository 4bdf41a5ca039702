"""The recommender's reads: one module per concern.

- runs: the runs page and the API's run list (the `Status` of each reconstruction, its
  filters), the work queue's counts and next run, and the reads of one run for its page;
- references: the references page (the reference in use, the timeline) and the shift
  leaders' declared references, with the conditions a run differs from one in;
- rankings: the stored rankings, with their side-by-side values, and the labelled run
  reconstructions the refresh leaves alone;
- model_versions: the model versions, their accuracy by month and first-choice
  acceptance, and the decisions the API lists;
- frames: the data frames the model is trained and served on (run features, labels)
  and the label table's fingerprint.

Reads only, low in `recommender/`'s layers: they import models, results and `ml/`,
never the ranking, services, training or tasks (tests/test_import_graph.py). The
ranking's own reads are `recommender.ranking_reads`. The names below are the public
selectors, importable from `recommender.selectors`.
"""

from .frames import labels_fingerprint, labels_frame, labels_read, run_features_frame
from .model_versions import (
    AcceptanceRate,
    MonthlyAccuracy,
    feedback_get,
    feedback_list,
    first_choice_acceptance,
    model_accuracy_by_month,
    model_version_active,
    model_version_for,
    model_version_is_active,
    model_versions,
)
from .rankings import (
    labelled_keys,
    recommendations_stored,
    recommendations_stored_references,
    recommendations_stored_with_scores,
    side_by_side_for,
)
from .references import (
    TIMELINE_MONTHS,
    ReferenceInUse,
    ReferencesOverview,
    TimelineSegment,
    conditions_conflicting,
    declarations_read,
    declared_reference_get,
    declared_references,
    references_in_use,
)
from .runs import (
    CERTIFIED_ON_ARRIVAL,
    STATUS_FILTERS,
    UNKNOWN_TRACKER_FLAGS,
    RecoRow,
    RunListCounts,
    Status,
    datasets_for,
    decisions_for,
    labels_for,
    next_awaiting_run,
    reco_rows_for,
    run_conditions_known,
    run_for_page,
    run_list_counts,
    run_reconstruction_for_page,
    runs_awaiting,
    runs_for_certification,
    runs_for_list,
    tracker_certification_for_page,
    tracker_flags_for,
)

__all__ = [
    "CERTIFIED_ON_ARRIVAL",
    "STATUS_FILTERS",
    "TIMELINE_MONTHS",
    "UNKNOWN_TRACKER_FLAGS",
    "AcceptanceRate",
    "MonthlyAccuracy",
    "RecoRow",
    "ReferenceInUse",
    "ReferencesOverview",
    "RunListCounts",
    "Status",
    "TimelineSegment",
    "conditions_conflicting",
    "datasets_for",
    "decisions_for",
    "declarations_read",
    "declared_reference_get",
    "declared_references",
    "feedback_get",
    "feedback_list",
    "first_choice_acceptance",
    "labelled_keys",
    "labels_fingerprint",
    "labels_for",
    "labels_frame",
    "labels_read",
    "model_accuracy_by_month",
    "model_version_active",
    "model_version_for",
    "model_version_is_active",
    "model_versions",
    "next_awaiting_run",
    "reco_rows_for",
    "recommendations_stored",
    "recommendations_stored_references",
    "recommendations_stored_with_scores",
    "references_in_use",
    "run_conditions_known",
    "run_features_frame",
    "run_for_page",
    "run_list_counts",
    "run_reconstruction_for_page",
    "runs_awaiting",
    "runs_for_certification",
    "runs_for_list",
    "side_by_side_for",
    "tracker_certification_for_page",
    "tracker_flags_for",
]
