"""The reads that rank: what the run page, the references page and the API show, from
the stored rankings (recommender.selectors) or the ranking computed now
(recommender.recommending) and the labels the serving cache holds.

Above the ranking, below services, pages and API: selectors never import it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache

from ingestion import selectors as ingestion_selectors
from ingestion.models import Run

from .changes import changes_key
from .ml.declarations import Conditions, Declaration
from .models import DeclaredReference, ModelVersion, RunReconstruction
from .recommending import NeedsReference, recommendations_for, reference_proposals, runs_needing_reference
from .recommending import declaration_covering as covering
from .recommending import declarations_stale as stale
from .results import RecommendationResult
from .selectors import CERTIFIED_ON_ARRIVAL, model_version_active, recommendations_stored, runs_awaiting
from .serving import labels_in_use

# --- What a reference was used for: the facts behind the reasons and the references page ---


@dataclass(frozen=True)
class ReferenceFacts:
    """What the label history says about one candidate reference for one run reconstruction."""

    reference_run_number: int
    group_runs: int  # runs of the target's group (reconstruction, run class) that used it
    is_group_current: bool  # the group's newest label before the run used it
    current_since_run: int | None  # first run of the group's current streak with it
    group_last_run: int | None
    first_certified_at: object  # datetime the reference itself was first labelled (certified), or None
    reference_start: object  # the reference run's start time, or None
    other_reco_first_use: dict[str, object]  # other reconstruction -> when it first used it (recorded_at)
    curated_note: str | None  # the note of the leaders' declaration in use; None when not declared


def reference_facts(*, run: Run, reconstruction: str, reference_run_numbers: list[int]) -> dict[int, ReferenceFacts]:
    """Per candidate reference, its use before `run` in the run's group (run class and
    reconstruction, as on the references page) and elsewhere, from the labels the
    serving cache holds: eight aggregate queries cost a quarter of the run page."""
    if not reference_run_numbers:
        return {}
    labels = labels_in_use()
    runs = labels["run_number"].to_numpy()
    references = labels["reference_run_number"].to_numpy()
    reconstructions = labels["reconstruction"].to_numpy()
    recorded = labels["recorded_at"].to_numpy()
    positive = labels["is_positive"].to_numpy(dtype=bool)
    # Labels are in run order: those of earlier runs are a prefix.
    before_run = int(np.searchsorted(runs, run.run_number, side="left"))
    earlier = np.flatnonzero(
        positive[:before_run] & (labels["own_run_class"].to_numpy()[:before_run] == (run.run_class or ""))
    )
    group = earlier[reconstructions[earlier] == reconstruction]
    newest = since = None
    if len(group):
        # the group's newest label (of its newest run, the last recorded) names the current reference
        last = group[runs[group] == runs[group[-1]]]
        newest = int(references[max(last, key=lambda i: recorded[i])])
        other = group[references[group] != newest]
        # the current streak starts after the group's newest label of another reference
        streak = group[references[group] == newest]
        if len(other):
            streak = streak[runs[streak] > runs[other[-1]]]
        since = int(runs[streak].min()) if len(streak) else None
    usage: dict[int, tuple[int, int]] = {}
    other_use: dict[int, dict[str, object]] = defaultdict(dict)
    candidates = earlier[np.isin(references[earlier], reference_run_numbers)]
    for ref, reco in {(int(references[i]), reconstructions[i]) for i in candidates}:
        uses = candidates[(references[candidates] == ref) & (reconstructions[candidates] == reco)]
        if reco == reconstruction:
            usage[ref] = (len(set(runs[uses].tolist())), int(runs[uses].max()))
        else:
            other_use[ref][reco] = min(recorded[uses])
    certifications = np.flatnonzero(positive & np.isin(runs, reference_run_numbers))
    certified: dict[int, object] = {}
    for i in certifications:
        number = int(runs[i])
        if number not in certified or recorded[i] < certified[number]:
            certified[number] = recorded[i]
    wanted = set(reference_run_numbers)
    starts = ingestion_selectors.run_starts(run_numbers=wanted)
    notes = dict(
        DeclaredReference.objects.filter(
            until_run__isnull=True, run_reconstruction__run__run_number__in=wanted, run_class=run.run_class
        )
        .order_by("from_run", "created_at")
        .values_list("run_reconstruction__run__run_number", "note")
    )
    return {
        ref: ReferenceFacts(
            reference_run_number=ref,
            group_runs=usage.get(ref, (0, None))[0],
            is_group_current=ref == newest,
            current_since_run=since if ref == newest else None,
            group_last_run=usage.get(ref, (0, None))[1],
            first_certified_at=certified.get(ref),
            reference_start=starts.get(ref),
            other_reco_first_use=dict(other_use.get(ref, {})),
            curated_note=(notes[ref] or "") if ref in notes else None,
        )
        for ref in reference_run_numbers
    }


def recommendations_shown(
    *, run_number: int, reconstruction: str, limit: int = 5, model_version: ModelVersion | None = None
) -> list[RecommendationResult]:
    """What the run page and the API show: the active model's stored ranking, else the
    ranking computed now in memory (a run the refresh has not reached yet), never written.

    Raises UnknownRunReconstruction for a run not in the mirror and ModelArtifactError
    for an active model whose file fails its checks."""
    stored = recommendations_stored(
        run_number=run_number,
        reconstruction=reconstruction,
        model_version=model_version or model_version_active(),
        limit=limit,
    )
    if stored:
        return stored
    return recommendations_for(run_number=run_number, reconstruction=reconstruction, limit=limit)


def declaration_covering(*, run: Run, reconstruction: str) -> Declaration | None:
    """The declaration that is this run reconstruction's rank 1, if one covers it."""
    return covering(run_number=run.run_number, reconstruction=reconstruction, run_class=run.run_class or "")


def declarations_stale() -> dict[int, tuple[int, int]]:
    """Declarations in use that shifters keep deciding against (settings.DECLARATION_STALE_AFTER
    decisions in a row for another reference): id -> (the reference they use, how many in a row)."""
    return stale(in_a_row=settings.DECLARATION_STALE_AFTER)


@dataclass(frozen=True)
class ReferenceNeeded:
    """Runs of one group in the work queue that no declaration covers and whose conditions
    differ from those of the reference in use in the same way: a leader should declare one."""

    new: str  # what is new, in words: "APV mode PEAK, B field 0 T"
    since_run: int
    runs_waiting: int
    # The newest run's need, which the proposals are ranked for; its run class,
    # reconstruction and reference in use are the whole group's (they group it).
    newest: NeedsReference

    @property
    def run_class(self) -> str:
        return self.newest.run_class

    @property
    def reconstruction(self) -> str:
        return self.newest.reconstruction

    @property
    def reference_in_use(self) -> int:
        return self.newest.reference_in_use

    @property
    def newest_run(self) -> int:
        return self.newest.run_number

    @property
    def conditions(self) -> Conditions:
        """The newest run's: what a declaration for them names."""
        return self.newest.conditions


REFERENCES_NEEDED_CACHE_S = 3600
# The newest runs of each reconstruction's queue looked at: a few days of shifts.
REFERENCES_NEEDED_RUNS = 300


def _new_words(new: Iterable[str], conditions: Conditions, era: str) -> str:
    values = {
        "B field": "3.8 T" if conditions.b_field > 1.0 else "0 T",
        "APV mode": conditions.apv_mode,
        "beam": conditions.beam.lower(),
        "beam energy": f"{conditions.energy:.0f} GeV",
        "era": era,
    }
    return ", ".join(f"{name} {values[name]}" for name in new)


_REFERENCES_NEEDED_COUNTERS = (
    "runs",
    "run_reconstructions",
    "labels",
    "feedback",
    "declarations",
    "tracker_certifications",
)


def references_needed() -> list[ReferenceNeeded]:
    """The work queue's runs that need a reference, grouped by scope, newest group first.
    Cached until a run, label, decision, declaration or Run Registry state changes (their
    change counters): it looks at the work queue, which reads all of them."""
    # "groups": the key a442158 and earlier wrote held groups of another shape (with
    # their proposals), which a rolling deploy would read back from a shared cache.
    key = f"references-needed-groups:{changes_key(*_REFERENCES_NEEDED_COUNTERS)}"
    return cache.get_or_set(key, _references_needed_compute, REFERENCES_NEEDED_CACHE_S)


def references_needed_proposed() -> list[tuple[ReferenceNeeded, list[int]]]:
    """Each group of `references_needed` with the model's best candidates taken under its
    newest run's conditions: what a leader may declare. Only the references page shows
    them. The runs page, where every decision sends a shifter back, shows the groups
    alone: a decision changes the key, and ranking the candidates again there was the
    load test's largest cost (BENCHMARKS.md, "Load: the landing page ranks nothing")."""
    key = f"references-needed-proposed:{changes_key(*_REFERENCES_NEEDED_COUNTERS, 'models')}"
    return cache.get_or_set(
        key,
        lambda: [(group, reference_proposals(need=group.newest)) for group in references_needed()],
        REFERENCES_NEEDED_CACHE_S,
    )


def _references_needed_compute() -> list[ReferenceNeeded]:
    groups: dict[tuple, list] = defaultdict(list)
    for reconstruction in CERTIFIED_ON_ARRIVAL:
        queued = list(
            runs_awaiting(reconstruction=reconstruction).values_list("run_number", "era")[:REFERENCES_NEEDED_RUNS]
        )
        eras = dict(queued)
        # the datasets Certhelper named (a walked-back one would only repeat the run's class)
        datasets = dict(
            RunReconstruction.objects.filter(run__run_number__in=list(eras), reconstruction=reconstruction)
            .exclude(dataset="")
            .values_list("run__run_number", "dataset")
        )
        targets = [(number, reconstruction, datasets.get(number, "")) for number in eras]
        for need in runs_needing_reference(targets=targets):
            words = _new_words(need.new, need.conditions, eras.get(need.run_number) or "")
            groups[(need.run_class, need.reconstruction, need.reference_in_use, words)].append(need)
    out = []
    for (_, _, _, words), needs in groups.items():
        newest = max(needs, key=lambda n: n.run_number)
        out.append(
            ReferenceNeeded(
                new=words,
                since_run=min(n.run_number for n in needs),
                runs_waiting=len(needs),
                newest=newest,
            )
        )
    return sorted(out, key=lambda g: -g.newest_run)
