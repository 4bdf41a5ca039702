"""Run class: the first thing a reference must share with its run.

From OMS attributes where they say enough; from the DQM dataset name otherwise
(the evaluation protocol's rule, and Certhelper's).

A pure module: it imports nothing of Django, so `recommender/ml/` may use it. The
class values are written here once and `ingestion.models.RunClass` takes them.
"""

import re

COLLISIONS_PP = "collisions_pp"
HEAVY_ION = "heavy_ion"
COSMICS = "cosmics"
COMMISSIONING = "commissioning"
SPECIAL = "special"

# /HIMinimumBias0/HIRun2018A-..., /Express/Collisions2023HI/DQM, /PromptReco/HIPhysicsRawPrime0/...
_HEAVY_ION_DATASET = re.compile(r"/HI|\d{4}HI")


def run_class_from_oms(
    *,
    l1_hlt_mode: str = "",
    hlt_key: str = "",
    fill_type_runtime: str = "",
    stable_beam: bool | None = None,
) -> str:
    """Run class from OMS run attributes, or "" when they do not say.

    `l1_hlt_mode` is the main signal (collisions2018, collisionsHI2018,
    cosmics2024, ...). Certhelper's own rule, physics/special HLT key with
    stable beams, is the fallback.
    """
    mode = (l1_hlt_mode or "").lower()
    key = (hlt_key or "").lower()
    fill_type = (fill_type_runtime or "").upper()
    if "cosmic" in mode or "/cosmic" in key:
        return COSMICS
    if mode.startswith("collisionshi"):
        return HEAVY_ION
    if mode.startswith("collisions"):
        if fill_type in {"IONS", "PB", "PBPB", "PROTON_NUCLEUS"}:
            return HEAVY_ION
        return COLLISIONS_PP
    if "commissioning" in mode:
        return COMMISSIONING
    if mode:
        # circulating2018, romanpotalignment2018, splashes...: global runs taken
        # for a special purpose, certified rarely and never as a reference.
        return SPECIAL
    if ("/cdaq/physics" in key or "/cdaq/special" in key) and stable_beam:
        return HEAVY_ION if fill_type in {"IONS", "PB", "PBPB"} else COLLISIONS_PP
    if key:
        return COSMICS if stable_beam is False and "/cdaq/" in key else ""
    return ""


def run_class_from_dataset(dataset: str) -> str:
    """Run class from a DQM dataset name, or "" for an empty or placeholder name.

    /Express/Cosmics2024/DQM -> cosmics; /HIMinimumBias0/HIRun2018A-... and
    /Express/Collisions2023HI/DQM -> heavy ion; /PromptReco/Commissioning2023/DQM
    -> commissioning; any other real dataset -> pp collisions.
    """
    name = (dataset or "").strip()
    if not name.startswith("/"):
        return ""  # empty, None or "To Be Defined"
    lowered = name.lower()
    if "cosmic" in lowered:
        return COSMICS
    if _HEAVY_ION_DATASET.search(name):
        return HEAVY_ION
    if "commissioning" in lowered:
        return COMMISSIONING
    return COLLISIONS_PP
