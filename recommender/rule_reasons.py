"""The words of the reasons a rule, not a model feature, gives for rank 1 (a shift
leaders' declaration, persistence of the reference in use), and the run class and
reconstruction words they share with the pages' sentences.

Below the ranking, which stores these reasons (recommender.recommending), and the
pages, which show them (recommender.pages.reasons): plain words, no reads.
"""

from __future__ import annotations

RECONSTRUCTION_WORDS = {"express": "express", "prompt": "prompt", "rereco": "ReReco", "rerecoul": "ReReco UL"}
RUN_CLASS_WORDS = {
    "collisions_pp": "pp collisions",
    "heavy_ion": "heavy-ion",
    "cosmics": "cosmics",
    "commissioning": "commissioning",
    "special": "special",
}

# The reasons of the rule that holds rank 1 (a leaders' declaration, persistence), not
# of a model feature: their description is the sentence (recommender.recommending).
RULE_DECLARED = "rule_declared"
RULE_PERSISTENCE = "rule_persistence"
RULES = frozenset({RULE_DECLARED, RULE_PERSISTENCE})


def _energy_words(gev: float) -> str:
    return f"{gev / 1000:.3g} TeV" if gev >= 1000 else f"{gev:.0f} GeV"


def declaration_scope_words(declaration) -> str:
    """A declaration's scope (a DeclaredReference or its plain Declaration) as the Twiki's
    rows say it: "cosmics, express, DECO, 3.8 T"."""
    parts = [RUN_CLASS_WORDS.get(declaration.run_class, declaration.run_class or "any run class")]
    if declaration.reconstruction:
        parts.append(RECONSTRUCTION_WORDS.get(declaration.reconstruction, declaration.reconstruction))
    if declaration.apv_mode:
        parts.append(declaration.apv_mode)
    if declaration.b_field_on is not None:
        parts.append("3.8 T" if declaration.b_field_on else "0 T")
    if declaration.beam:
        parts.append(declaration.beam.lower())
    if declaration.beam_energy is not None:
        parts.append(_energy_words(declaration.beam_energy))
    return ", ".join(parts)


def declared_reason_text(*, scope: str, from_run: int, note: str) -> str:
    quoted = f": “{note}”" if note else ""
    return f"declared by the shift leaders for {scope} since run {from_run}{quoted}"


def persistence_reason_text() -> str:
    return "rank 1 because it is the reference in use: only a shift leaders' declaration changes it"
