"""The catalogue of the model's features: one entry per column the pipeline is given.

Everything that names a feature reads it from here: the pipeline's column lists and their
order (recommender.ml.pipeline, model), the descriptions stored with each reason
(recommender.recommending), the sentence a reason becomes (its reason kind:
recommender.pages.reasons), the run values shown side by side for run and reference
(recommending, selectors.rankings), and the names older models and stored reasons carry
(`formerly`). Adding a feature means an entry here and its computation in
recommender.ml.pair_features; tests/recommender/ml/test_catalogue.py checks that the two
agree and that every entry says what it is.

The history features count the labels (positive: a shifter used the reference) of runs
before the target, at three scopes:
- group: the target's reconstruction type and run class (prompt collisions_pp, say);
- class: the target's run class, every reconstruction type;
- anywhere: every label, any run class and reconstruction type.
"Other reco" are the other reconstruction types of the target's run class; "recent" are a
scope's last RECENT_WINDOW labels (recommender.ml.history); "current" is the reference of
the group's newest label.

The column order is the model's: a pipeline is fitted on the columns in this order, so an
entry is added at the end of its block, never moved.
"""

from __future__ import annotations

from dataclasses import dataclass

HISTORY = "history"  # from the labels of earlier runs (recommender.ml.history)
OMS = "oms"  # from the run's and the candidate's OMS/DQM values (recommender.ml.run_table)
CATEGORICAL = "categorical"  # about the run reconstruction itself, encoded as categories
BLOCKS = (HISTORY, OMS, CATEGORICAL)

# What a reason of the feature says (recommender.pages.reasons makes one sentence per kind).
REASON_KINDS = (
    "group",  # the group's use of the reference
    "class_use",  # the run class's (or anyone's) use of it
    "other_reco",  # what the other reconstruction types of the class did
    "never_used",  # never used: a candidate for new conditions
    "curated",  # the shift leaders' reference list
    "run_class",  # the candidate's run class against the run's
    "certified_good",  # its lumisections certified good
    "era_start",  # among the first good runs of its era
    "about_the_run",  # describes the run, not the reference: no sentence
    "apv",
    "b_field",
    "era",
    "bunches",
    "duration",
    "lumi",
    "energy",
    "time_gap",
    "size",  # the reference's length
)


@dataclass(frozen=True)
class Feature:
    name: str  # the column
    block: str  # HISTORY, OMS or CATEGORICAL
    description: str  # what it measures, stored with each reason
    reason: str  # its REASON_KINDS entry
    # The run values shown side by side for run and reference that say what the feature
    # measures (the values its reason quotes): (run table column, label).
    side_by_side: tuple[tuple[str, str], ...] = ()
    formerly: str = ""  # its name in models trained and reasons stored before the rename


# The run values shown side by side for run and reference: (run table column, label).
# How long, how many bunches, how bright:
_DURATION = ("duration", "Duration (s)")
_BUNCHES = ("bunches_colliding", "Colliding bunches")
_INIT_LUMI = ("init_lumi", "Initial inst. luminosity")
_END_LUMI = ("end_lumi", "End inst. luminosity")
_RECORDED_LUMI = ("recorded_lumi", "Recorded luminosity (pb^-1)")
# the conditions a reference must share:
_APV_MODE = ("apv_mode", "APV mode")
_ENERGY = ("energy", "Beam energy (GeV)")
_B_FIELD = ("b_field", "B field (T)")
_ERA = ("era", "Era")
# pileup: DQM's primary vertices, else the lumisections' mean pileup; and the length in lumisections
_PV_MEAN, _PILEUP = ("pv_mean", "Primary vertices (mean)"), ("pileup", "Pileup (mean)")
_LS_COUNT = ("ls_count", "Lumisections")


def _h(name: str, description: str, reason: str, *, formerly: str = "") -> Feature:
    return Feature(name, HISTORY, description, reason, formerly=formerly)


def _o(name: str, description: str, reason: str, *shown: tuple[str, str]) -> Feature:
    return Feature(name, OMS, description, reason, side_by_side=shown)


# How the descriptions name the scopes (the module's docstring says what they count).
_GROUP = "this reconstruction type and run class"
_OTHER_RECO = "another reconstruction type of the run class"

FEATURES: tuple[Feature, ...] = (
    # --- history: the group ---------------------------------------------------------------
    _h("group_is_last", f"current reference of {_GROUP}", "group", formerly="g_is_last"),
    _h("group_recency_rank", f"how recently it was used for {_GROUP}", "group", formerly="g_recency_rank"),
    _h("group_label_gap", f"labels of {_GROUP} since its last use", "group", formerly="g_label_gap"),
    _h("group_run_gap", f"runs since its last use for {_GROUP}", "group", formerly="g_run_gap"),
    _h("group_count", f"how often it was used for {_GROUP}", "group", formerly="g_count"),
    _h("group_recent_frac", f"share of {_GROUP}'s recent labels", "group", formerly="g_recent_frac"),
    # --- history: the run class, every reconstruction type ---------------------------------
    _h("class_is_last", "the newest reference chosen for this run class", "class_use", formerly="k_is_last"),
    _h("class_recency_rank", "how recently it was used for this run class", "class_use", formerly="k_recency_rank"),
    _h("class_run_gap", "runs since its last use for this run class", "class_use", formerly="k_run_gap"),
    _h("class_count", "how often it was used for this run class", "class_use", formerly="k_count"),
    _h("class_recent_frac", "share of the run class's recent labels", "class_use", formerly="k_recent_frac"),
    _h(
        "class_newer_than_group",
        "chosen by another reconstruction type after this group's last label",
        "other_reco",
        formerly="k_newer_than_group",
    ),
    _h(
        "other_reco_current",
        "current reference of other reconstruction types of the class",
        "other_reco",
        formerly="other_last_count",
    ),
    # --- history: anywhere, any run class and reconstruction type --------------------------
    _h("anywhere_count", "how often it was used for any run class", "class_use", formerly="a_count"),
    _h("anywhere_run_gap", "runs since its last use for any run class", "class_use", formerly="a_run_gap"),
    _h("ever_used", "already used as a reference", "never_used"),
    _h("cert_rank", "rank among recently certified runs of the class", "never_used"),
    _h("curated_active", "on the shift leaders' reference list", "curated"),
    # Relative to the group's current reference: a pointwise model cannot compare rows, and
    # "is this newer than what the group uses now?" is the switch signal.
    _h(
        "class_last_minus_current",
        "used for the run class after the current reference",
        "group",
        formerly="k_last_minus_current",
    ),
    _h(
        "class_recent_minus_current",
        "recent share in the run class against the current reference",
        "class_use",
        formerly="k_recent_minus_current",
    ),
    _h(
        "anywhere_last_minus_current",
        "used for any run class after the current reference",
        "group",
        formerly="a_last_minus_current",
    ),
    _h("target_group_idle_runs", "runs since this group's last label", "about_the_run"),
    _h("target_current_ref_age", "age of the group's current reference", "group"),
    _h("target_group_size", "labels in the group so far", "about_the_run"),
    _h("run_gap", "run-number gap", "time_gap"),
    _h("cand_is_later", "reference is later than the run", "time_gap"),
    # what the other reconstruction types of the class did, and when the candidate first appeared
    _h("class_first_gap", "runs since its first use for this run class", "class_use", formerly="k_first_gap"),
    _h(
        "class_first_after_group",
        "first chosen for this run class after this group's last label",
        "other_reco",
        formerly="k_first_after_group",
    ),
    _h(
        "class_labels_since_first",
        "labels of the run class since its first use",
        "class_use",
        formerly="k_labels_since_first",
    ),
    _h("group_first_gap", f"runs since its first use for {_GROUP}", "group", formerly="g_first_gap"),
    _h(
        "other_reco_switched_to",
        f"{_OTHER_RECO} switched to it since this group's last label",
        "other_reco",
        formerly="sib_switched_to",
    ),
    _h(
        "other_reco_switched_any",
        f"{_OTHER_RECO} switched reference since this group's last label",
        "other_reco",
        formerly="sib_switched_any",
    ),
    _h("never_used_rank", "rank among never-used candidates, newest first", "never_used", formerly="nu_rank"),
    # eras named by the dataset names (/Express/Cosmics23/DQM): known before any label
    _h("ds_era_same", "certified in the run's era (dataset name)", "era"),
    _h("client_era_same", "last used for a run of the run's era (dataset name)", "era"),
    _h("cur_era_same", "the group's last label was of the run's era (dataset name)", "era"),
    # run classes: a class without a reference of its own borrows one from another class
    _h("same_class", "a run of the same run class", "run_class"),
    _h("lender_class", "a run of a class this run class borrowed references from", "run_class"),
    # what makes a good new reference: among the first certified runs of its era
    _h("cand_era_pos", "among the first certified runs of its era", "era_start"),
    # --- OMS/DQM values: the candidate against the run ----------------------------------------
    _o("d_log_duration", "duration", "duration", _DURATION),
    _o("d_bunches", "colliding bunches", "bunches", _BUNCHES),
    _o("d_log_init_lumi", "initial luminosity", "lumi", _INIT_LUMI),
    _o("d_log_end_lumi", "end luminosity", "lumi", _END_LUMI),
    _o("apv_same", "APV mode", "apv", _APV_MODE),
    _o("d_pv", "primary vertices / pileup", "lumi", _PV_MEAN, _PILEUP),
    _o("d_energy", "beam energy", "energy", _ENERGY),
    _o("b_field_same", "B-field state", "b_field", _B_FIELD),
    _o("era_same", "era", "era", _ERA),
    _o("time_gap_days", "time between the runs", "time_gap"),
    _o("cand_log_ls", "reference's lumisection count", "size", _LS_COUNT),
    _o("cand_log_recorded_lumi", "reference's recorded luminosity", "lumi", _RECORDED_LUMI),
    _o("cand_log_duration", "reference's duration", "duration", _DURATION),
    _o("target_log_duration", "run's duration", "about_the_run", _DURATION),
    _o("target_bunches", "run's colliding bunches", "about_the_run", _BUNCHES),
    # condition changes between the run and the group's current reference
    _o("cur_b_same", "B-field state of the run against the current reference", "b_field", _B_FIELD),
    _o("cur_apv_same", "APV mode of the run against the current reference", "apv", _APV_MODE),
    _o("cur_d_bunches", "colliding bunches of the run against the current reference", "bunches", _BUNCHES),
    _o("cur_d_log_duration", "duration of the run against the current reference", "duration", _DURATION),
    _o("cand_vs_cur_d_log_duration", "duration: closer than the current reference", "duration", _DURATION),
    _o("cand_vs_cur_d_bunches", "colliding bunches: closer than the current reference", "bunches", _BUNCHES),
    # what makes a good reference: long against the other candidates, certified good
    _o("cand_ls_pct", "longer than most candidates (lumisections)", "size", _LS_COUNT),
    _o("cand_good_frac", "share of its lumisections certified good", "certified_good"),
    # --- categories ---------------------------------------------------------------------------
    Feature("reconstruction", CATEGORICAL, "reconstruction type", "about_the_run"),
    Feature("run_class", CATEGORICAL, "run class", "about_the_run"),
)


def _names(block: str) -> list[str]:
    return [f.name for f in FEATURES if f.block == block]


HISTORY_COLUMNS = _names(HISTORY)
OMS_COLUMNS = _names(OMS)
CATEGORICAL_COLUMNS = _names(CATEGORICAL)
FEATURE_COLUMNS = HISTORY_COLUMNS + OMS_COLUMNS + CATEGORICAL_COLUMNS

# The run values shown side by side for run and reference, each once, in catalogue order.
SIDE_BY_SIDE = list(dict.fromkeys(shown for f in FEATURES for shown in f.side_by_side))

# A former name -> today's (models and reasons stored before a rename carry the former).
RENAMED = {f.formerly: f.name for f in FEATURES if f.formerly}

_BY_NAME = {f.name: f for f in FEATURES} | {f.formerly: f for f in FEATURES if f.formerly}


class UnknownFeature(KeyError):
    """A name that is no catalogued feature, today's or former."""


def feature(name: str) -> Feature:
    """The entry of a feature, by today's name or a former one."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFeature(name) from None


def description(name: str) -> str:
    return feature(name).description


def reason_kind(name: str) -> str:
    return feature(name).reason


def current_names(names: list[str]) -> list[str]:
    """`names` with every former name replaced by today's (other names kept as given)."""
    return [RENAMED.get(n, n) for n in names]
