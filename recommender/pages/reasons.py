"""The model's reasons in a shifter's words, and a confidence word for the first choice.

A `Reason` says which feature moved a candidate's score and by how much; the
sentence is made from the feature's *reason kind*, which its catalogue entry names
(recommender.ml.catalogue; a reason stored under a feature's former name finds it
too), and from the facts a shifter can check: the label history
(`ranking_reads.reference_facts`) and the run and reference values side by side.
A name the catalogue does not know is an error, not a guess.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils import timezone

from ..ml import catalogue
from ..rule_reasons import (
    RECONSTRUCTION_WORDS,
    RULES,
    RUN_CLASS_WORDS,
)

logger = logging.getLogger(__name__)

MAX_SENTENCES = 3
# An effect is negligible below this (scores are probabilities) or below this share of
# the row's largest effect: "(0.00)" reasons told the shifter nothing.
NEGLIGIBLE_EFFECT = 0.005
NEGLIGIBLE_SHARE = 0.1

# Confidence word for the first choice. The first choice's score is a calibrated
# probability that it is the reference the shifter will use (SHARED_DECISIONS: h9
# calibrates it out of period); the model's training stores the cut-offs it measured
# in ModelVersion.evaluation["confidence_thresholds"] = {"high": p, "medium": p}.
# Without them: high from 0.8 (four in five such first choices are used), medium
# from 0.5 (more often right than not), low below.
DEFAULT_CONFIDENCE_THRESHOLDS = {"high": 0.8, "medium": 0.5}


@dataclass(frozen=True)
class Sentence:
    text: str
    supports: bool  # True when it speaks for the reference, False against
    rule: bool = False  # the rule that put it first (a declaration, persistence), not a score's reason


@dataclass(frozen=True)
class Context:
    """What the sentences may quote, for one run reconstruction and one candidate."""

    run_class: str
    reconstruction: str
    facts: object | None  # ranking_reads.ReferenceFacts
    side_by_side: Mapping[str, tuple[object, object]]  # name -> (run value, reference value)
    run_start: dt.datetime | None = None
    now: dt.datetime | None = None


def kind_of(feature: str) -> str:
    """ "rule" for a rule's reason, else the feature's reason kind (catalogue.UnknownFeature
    for a name that is neither)."""
    if feature in RULES:
        return "rule"
    return catalogue.reason_kind(feature)


def _kind_shown(feature: str) -> str:
    """kind_of, but "stored" for a name the catalogue does not know: a ranking stored
    by a newer model (a worker deployed before this web pod) keeps its page, which
    shows the description stored with the reason. The catalogue test keeps every
    feature this code computes described."""
    try:
        return kind_of(feature)
    except catalogue.UnknownFeature:
        logger.warning(
            "reason feature %r is not in the model feature catalogue: its stored description is shown", feature
        )
        return "stored"


# A run older than this is looked at after the fact (a re-check, the demo's past
# data): "2 days ago" then means before the run, and is said so.
RECENT_RUN = dt.timedelta(days=7)
# Another reconstruction's first use of a reference within this is news: "switched to it".
RECENT_SWITCH = dt.timedelta(days=7)


def _ago(when: dt.datetime | None, context: Context) -> str:
    """When something happened, from the shifter's now for a new run, else from the run's start."""
    if when is None:
        return ""
    now = context.now or timezone.now()
    if context.run_start is not None and now - context.run_start > RECENT_RUN:
        days = (context.run_start - when).total_seconds() / 86400
        if days < 0:
            return "after the run"
        if days < 1:
            return "the day of the run"
        return f"{int(days)} day{'s' if int(days) != 1 else ''} before the run"
    days = (now - when).total_seconds() / 86400
    if days < 1:
        return "today" if days >= 0 else "after this run"
    if days < 2:
        return "yesterday"
    if days < 60:
        return f"{int(days)} days ago"
    return f"{int(days / 30.4)} months ago"


def _group_words(context: Context) -> str:
    run_class = RUN_CLASS_WORDS.get(context.run_class, context.run_class or "this run class")
    return f"{run_class} {RECONSTRUCTION_WORDS.get(context.reconstruction, context.reconstruction)}"


def _value(context: Context, name: str) -> tuple[object, object]:
    return context.side_by_side.get(name, (None, None))


def _number(value: object, digits: int = 1) -> str:
    """Whole numbers for counts and seconds; three significant digits for luminosity,
    which spans 10^-7 (heavy ions in 10^34 units) to a few."""
    if isinstance(value, float):
        return f"{value:.3g}" if digits else f"{value:.0f}"
    return str(value)


def _similar(a: float, b: float) -> bool:
    """Within a fifth of each other: what a shifter calls "about the same"."""
    return abs(a - b) <= 0.2 * max(abs(a), abs(b), 1e-12)


def _field_words(value: object) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "unknown"
    return f"{value:.1f} T" if value >= 1.0 else "0 T"


def _sentence(kind: str, feature: str, description: str, effect: float, context: Context) -> str | None:
    facts = context.facts
    if kind in ("rule", "stored"):
        return description
    if kind == "group":
        if facts is None:
            return None
        if facts.is_group_current:
            since = f" since run {facts.current_since_run}" if facts.current_since_run else ""
            used = f" (used for {facts.group_runs} runs)" if facts.group_runs else ""
            return f"current reference for {_group_words(context)}{since}{used}"
        if facts.group_runs:
            return f"used for {facts.group_runs} {_group_words(context)} runs, last for run {facts.group_last_run}"
        return f"never used for {_group_words(context)} so far"
    if kind == "other_reco":
        if facts is not None and facts.other_reco_first_use:
            reco, when = min(facts.other_reco_first_use.items(), key=lambda item: item[1])
            reco_words = RECONSTRUCTION_WORDS.get(reco, reco)
            reference_point = context.now or timezone.now()
            if context.run_start is not None and reference_point - context.run_start > RECENT_RUN:
                reference_point = context.run_start
            if reference_point - when <= RECENT_SWITCH:
                return f"the {reco_words} reconstruction switched to it {_ago(when, context)}"
            return f"also the {reco_words} reference, first used {_ago(when, context)}"
        return "no other reconstruction of this run class uses it"
    if kind == "never_used":
        if facts is not None and facts.group_runs == 0 and not facts.other_reco_first_use:
            certified = facts.first_certified_at or facts.reference_start
            verb = "certified" if facts.first_certified_at else "taken"
            ago = _ago(certified, context)
            return (
                f"{verb} {ago} and never used: a candidate for the new conditions"
                if ago
                else ("never used as a reference: a candidate for the new conditions")
            )
        return None  # an already-used reference: the group or class sentence says more
    if kind == "class_use":
        if facts is not None and facts.other_reco_first_use:
            recos = " and ".join(RECONSTRUCTION_WORDS.get(r, r) for r in sorted(facts.other_reco_first_use))
            return f"in use for {RUN_CLASS_WORDS.get(context.run_class, context.run_class)} {recos}"
        return None
    if kind == "curated":
        if facts is not None and facts.curated_note is not None:
            note = f": “{facts.curated_note}”" if facts.curated_note else ""
            return f"on the shift leaders' reference list{note}"
        return "not on the shift leaders' reference list"
    if kind == "run_class":
        words = RUN_CLASS_WORDS.get(context.run_class, context.run_class or "this run class")
        if feature == "lender_class":
            return f"a reference {words} runs borrowed from another run class before" if effect > 0 else None
        return f"a {words} run, like this one" if effect > 0 else f"not a {words} run"
    if kind == "certified_good":
        return "certified good in the Tracker certification" if effect > 0 else "few of its lumisections certified good"
    if kind == "era_start":
        return "among the first good runs of its era" if effect > 0 else None
    if kind in ("apv", "b_field", "era"):
        name = {"apv": "apv_mode", "b_field": "b_field", "era": "era"}[kind]
        label = {"apv": "APV mode", "b_field": "B field", "era": "era"}[kind]
        run_value, ref_value = _value(context, name)
        if kind == "b_field":
            run_value, ref_value = _field_words(run_value), _field_words(ref_value)
        if run_value in (None, "unknown") or ref_value in (None, "unknown"):
            return None
        if run_value == ref_value:
            return f"same {label} ({run_value})"
        return f"different {label} ({ref_value}, the run {run_value})"
    if kind in ("bunches", "duration", "lumi", "energy", "size"):
        name, label, unit = {
            "bunches": ("bunches_colliding", "colliding bunches", ""),
            "duration": ("duration", "duration", " s"),
            "lumi": ("init_lumi", "initial luminosity", " \u00d710\u00b3\u2074 cm\u207b\u00b2s\u207b\u00b9"),
            "energy": ("energy", "beam energy", " GeV"),
            "size": ("ls_count", "lumisections", ""),
        }[kind]
        run_value, ref_value = _value(context, name)
        if not isinstance(ref_value, int | float):
            return None
        ref_text = _number(ref_value, 0 if kind != "lumi" else 3) + unit
        if kind == "size":
            return f"{'a long' if effect > 0 else 'a short'} reference run ({ref_text} lumisections)"
        if not isinstance(run_value, int | float):
            return f"{label} {ref_text}"
        run_text = _number(run_value, 0 if kind != "lumi" else 3) + unit
        if _similar(run_value, ref_value):
            return f"similar {label} ({ref_text}; the run {run_text})"
        return f"{label} {ref_text} (the run {run_text})"
    if kind == "time_gap":
        if facts is not None and facts.reference_start is not None and context.run_start is not None:
            days = (context.run_start - facts.reference_start).total_seconds() / 86400
            if days >= 0:
                return f"taken {days:.0f} days before the run" if days >= 1 else "taken the same day as the run"
        return "taken shortly before the run" if effect > 0 else "taken long before the run"
    if kind == "about_the_run":
        return None  # describes the run, not the reference: nothing to tell the shifter about this choice
    raise ValueError(f"no sentence for reason kind {kind!r} (feature {feature!r})")


def sentences(*, reasons: Sequence, context: Context, model_used: bool = True) -> list[Sentence]:
    """At most MAX_SENTENCES sentences for one recommendation, strongest reason first,
    none for a negligible contribution and none twice.

    Without a model (the persistence fallback) every reason has effect 0: the
    group's history is then the whole reason and is said as such."""
    if not model_used:
        text = _sentence("group", "", "", 1.0, context)
        return [Sentence(text, True)] if text else []
    # The rule that holds rank 1 comes first whatever its effect: it, not the score, placed the row.
    kinds = [(reason, _kind_shown(reason.feature)) for reason in reasons]
    rules = [Sentence(r.description, True, rule=True) for r, kind in kinds if kind == "rule"]
    scored = [(r, kind) for r, kind in kinds if kind != "rule"]
    largest = max((abs(r.effect) for r, _ in scored), default=0.0)
    out: list[Sentence] = []
    seen_kinds: set[str] = set()
    seen_text: set[str] = set()
    for reason, kind in sorted(scored, key=lambda pair: -abs(pair[0].effect)):
        if abs(reason.effect) < NEGLIGIBLE_EFFECT or abs(reason.effect) < NEGLIGIBLE_SHARE * largest:
            continue
        if kind in seen_kinds:
            continue
        text = _sentence(kind, reason.feature, reason.description, reason.effect, context)
        seen_kinds.add(kind)
        if not text or text in seen_text:
            continue
        seen_text.add(text)
        out.append(Sentence(text, reason.effect > 0))
        if len(out) == MAX_SENTENCES:
            break
    return rules + _merged_conditions(out)


def _merged_conditions(items: list[Sentence]) -> list[Sentence]:
    """ "same APV mode (DECO)" and "same B field (3.8 T)" read better as one sentence."""
    same = [s for s in items if s.text.startswith("same ")]
    if len(same) < 2:
        return items
    merged = Sentence("same " + " and ".join(s.text[5:] for s in same), all(s.supports for s in same))
    out, placed = [], False
    for s in items:
        if s in same:
            if not placed:
                out.append(merged)
                placed = True
        else:
            out.append(s)
    return out


@dataclass(frozen=True)
class Confidence:
    word: str  # "high", "medium", "low" or "unknown"
    explanation: str

    @property
    def check_with_leader(self) -> bool:
        return self.word in ("low", "unknown")


def confidence_thresholds(evaluation: Mapping | None) -> dict[str, float]:
    """The model's measured cut-offs, else the documented defaults (a bad value falls back too)."""
    measured = (evaluation or {}).get("confidence_thresholds") or {}
    out = dict(DEFAULT_CONFIDENCE_THRESHOLDS)
    for key in out:
        value = measured.get(key)
        if isinstance(value, int | float) and 0.0 <= value <= 1.0:
            out[key] = float(value)
    if out["medium"] > out["high"]:
        out = dict(DEFAULT_CONFIDENCE_THRESHOLDS)
    return out


def confidence_for(
    *, score: float | None, evaluation: Mapping | None, conditions_known: bool = True, declared: bool = False
) -> Confidence | None:
    """The confidence word for a first choice, or None without a model score. A first
    choice the shift leaders declared rests on their word, not on the model's score."""
    if declared:
        return Confidence("declared", "the shift leaders declared this reference for runs of these conditions")
    if not conditions_known:
        return Confidence(
            "unknown", "RefRun has no OMS data for this run: its conditions are unknown, so the score is not shown."
        )
    if score is None or not isinstance(score, int | float) or math.isnan(score):
        return None
    thresholds = confidence_thresholds(evaluation)
    # The score is calibrated: say it as a share, then where it falls against the cut-offs.
    used = f"about {score:.0%} of first choices scored like this were the reference the shifter used"
    if score >= thresholds["high"]:
        return Confidence("high", f"{used}; RefRun calls {thresholds['high']:.0%} and up high")
    if score >= thresholds["medium"]:
        return Confidence(
            "medium", f"{used}; RefRun calls {thresholds['medium']:.0%} to {thresholds['high']:.0%} medium"
        )
    return Confidence("low", f"{used}, below the {thresholds['medium']:.0%} RefRun calls medium")
