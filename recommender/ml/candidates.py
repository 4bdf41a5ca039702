"""Candidate references for a run reconstruction, and the rules shifters rarely break.

The pool (evaluation.md, "candidate recall matters first"):
(a) references in use, *protected*: every reference the group and its run class used
    before the target, and those in use by the classes it borrowed from before; only
    an impossible one (later than the run, except rereco) leaves, so persistence's
    answer is always a candidate;
(b) the references everyone used most recently, the shift leaders' active curated
    references, and the most recent certified runs of the class, which the rules filter.

Rules are checked only where both values are known: a missing B field or APV mode
never removes a candidate. "Same run class" stands down for a class with no reference
of its own yet and for the classes it borrowed from (EVALUATION.md, "The pool").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .history import History
from .run_table import B_FIELD_ON_T, RunTable, Target

RECENT_CERTIFIED = 100
RECENT_ANY_CLASS = 30
# References in use by each class this class borrowed from before.
BORROWED_RECENT = 5
RERECO_TYPES = frozenset({"rereco", "rerecoul"})
COMMISSIONING = "commissioning"

RULES = ("same_run_class", "same_b_field_state", "same_apv_mode", "not_later")
# Measured on the 9,589 Certhelper pairs (EVALUATION.md, "Rules"): these broke in
# under 1% of the pairs where both values are known, so they filter.
HARD_RULES = frozenset({"same_run_class", "same_b_field_state", "not_later"})


@dataclass(frozen=True)
class RuleContext:
    history: History
    runs: RunTable

    def run_class(self, run_number: int) -> str:
        # The class a run was certified as (its labels' dataset), else OMS's.
        return self.history.certified_class.get(run_number) or self.runs.run_class(run_number)


def breaks_rule(rule: str, target: Target, candidate: int, ctx: RuleContext) -> bool:
    """True only when the rule is known to be broken (unknown values never break it)."""
    if rule == "not_later":
        if target.reconstruction in RERECO_TYPES:
            return False
        return candidate >= target.run_number
    if rule == "same_run_class":
        cand_class = ctx.run_class(candidate)
        if COMMISSIONING in (target.run_class, cand_class):
            return False  # commissioning runs borrow pp or cosmics references, and lend theirs
        return bool(target.run_class and cand_class and cand_class != target.run_class)
    if rule == "same_b_field_state":
        tb = ctx.runs.value(target.run_number, "b_field")
        cb = ctx.runs.value(candidate, "b_field")
        if np.isnan(tb) or np.isnan(cb):
            return False
        return (tb > B_FIELD_ON_T) != (cb > B_FIELD_ON_T)
    if rule == "same_apv_mode":
        if target.run_class != "cosmics":
            return False
        ta = ctx.runs.value(target.run_number, "apv_mode")
        ca = ctx.runs.value(candidate, "apv_mode")
        return bool(ta and ca and ta != ca)
    raise ValueError(f"unknown rule {rule!r}")


def rule_applicable(rule: str, target: Target, candidate: int, ctx: RuleContext) -> bool:
    """Whether both values the rule compares are known."""
    if rule == "not_later":
        return target.reconstruction not in RERECO_TYPES
    if rule == "same_run_class":
        cand_class = ctx.run_class(candidate)
        return bool(target.run_class and cand_class) and COMMISSIONING not in (target.run_class, cand_class)
    if rule == "same_b_field_state":
        return not (
            np.isnan(ctx.runs.value(target.run_number, "b_field")) or np.isnan(ctx.runs.value(candidate, "b_field"))
        )
    if rule == "same_apv_mode":
        return (
            target.run_class == "cosmics"
            and bool(ctx.runs.value(target.run_number, "apv_mode"))
            and bool(ctx.runs.value(candidate, "apv_mode"))
        )
    raise ValueError(f"unknown rule {rule!r}")


def borrowed_classes(history: History, run_class: str, ctx: RuleContext) -> frozenset[str]:
    """Classes whose runs this class has used as references before (its own excluded)."""
    uses = history.run_class_uses(run_class)
    return frozenset(c for ref in uses.last_run if (c := ctx.run_class(ref)) and c != run_class)


def has_own_reference(history: History, run_class: str, ctx: RuleContext) -> bool:
    """Whether the class has used a run of its own class as a reference yet."""
    return any(ctx.run_class(ref) == run_class for ref in history.run_class_uses(run_class).last_run)


def candidate_pool(
    history: History,
    target: Target,
    runs: RunTable,
    *,
    curated: frozenset[int] = frozenset(),
    recent_certified: int = RECENT_CERTIFIED,
    hard_rules: frozenset[str] = HARD_RULES,
) -> list[int]:
    """Candidate reference runs for the target, references in use first.

    The references the group and its run class used are *protected*: only an impossible
    candidate (a run later than the target, except for rereco) leaves the pool, so the pool
    always holds persistence's answer, including a reference borrowed from another class.
    The other rules filter only the runs nobody of this class used yet, and "same run class"
    stands down for a class with no reference of its own and for the classes it borrowed from.
    """
    ctx = RuleContext(history, runs)
    protected: dict[int, None] = {}
    for ref in history.group(target).order():
        protected[ref] = None
    for ref in history.run_class_uses(target.run_class).order():
        protected[ref] = None
    borrowed = borrowed_classes(history, target.run_class, ctx)
    # The references the lending classes use now: a class without its own reference keeps
    # following the class it borrowed from (evaluation.md, "out of period").
    for lender in sorted(borrowed):
        for ref in history.run_class_uses(lender).order()[:BORROWED_RECENT]:
            protected[ref] = None
    others: dict[int, None] = {}
    # References other classes just chose: commissioning and unlabelled runs borrow them.
    for ref in history.everyone.order()[:RECENT_ANY_CLASS]:
        others[ref] = None
    for ref in sorted(curated, reverse=True):
        others[ref] = None
    for run in history.recent_certified(target.run_class, recent_certified, before_run=target.run_number):
        others[run] = None
    own = has_own_reference(history, target.run_class, ctx)
    pool: list[int] = []
    seen: set[int] = {target.run_number}  # a run is never its own reference
    for c in protected:
        if c in seen:
            continue
        seen.add(c)
        if "not_later" in hard_rules and breaks_rule("not_later", target, c, ctx):
            continue
        pool.append(c)
    for c in others:
        if c in seen:
            continue
        seen.add(c)
        broken = False
        for rule in hard_rules:
            if rule == "same_run_class" and (not own or ctx.run_class(c) in borrowed):
                continue  # stands down: the class has no reference of its own, or borrows from there
            if breaks_rule(rule, target, c, ctx):
                broken = True
                break
        if not broken:
            pool.append(c)
    return pool


def rule_violations(labels: pd.DataFrame, runs: RunTable) -> pd.DataFrame:
    """How often the shifters' chosen reference breaks each rule.

    Prequential like the evaluation: a reference's certified class is what labels of
    earlier runs said. Returns one row per rule: pairs where it applies, violations, rate.
    """
    history = History()
    counts = {rule: [0, 0] for rule in RULES}
    examples: dict[str, list[tuple[int, int]]] = {rule: [] for rule in RULES}
    for _, batch in labels.groupby("run_number", sort=True):
        ctx = RuleContext(history, runs)
        for row in batch.itertuples(index=False):
            target = Target(int(row.run_number), str(row.reconstruction), str(row.run_class))
            ref = int(row.reference_run_number)
            if ref == target.run_number:
                continue
            for rule in RULES:
                if rule_applicable(rule, target, ref, ctx):
                    counts[rule][0] += 1
                    if breaks_rule(rule, target, ref, ctx):
                        counts[rule][1] += 1
                        if len(examples[rule]) < 5:
                            examples[rule].append((target.run_number, ref))
        history.add_many(batch)
    return pd.DataFrame(
        [
            {
                "rule": rule,
                "applicable": n,
                "violations": v,
                "rate": v / n if n else float("nan"),
                "hard_filter": rule in HARD_RULES,
                "examples": examples[rule],
            }
            for rule, (n, v) in counts.items()
        ]
    )
