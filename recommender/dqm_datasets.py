"""The DQM GUI's name of a run's dataset (a DQMIO dataset), for the links out.

Certhelper's dataset is not one: since 2021 Certhelper (and the Run Registry's offline
workspace) name datasets with their own labels (`/Express/Cosmics2024/DQM`,
`/PromptReco/Collisions2024/DQM`), which the DQM GUI does not serve. The GUI files a
run under the DQMIO dataset the Tier-0 wrote:

    /<primary dataset>/<era>-<processing>-v<N>/DQMIO

Where RefRun knows a run's DQMIO name (Certhelper carried them until 2018), it is used.
Else the name DIALS lists for the run (`Run.dqmio_datasets`, stored by the conditions
sync from DIALS's run list): of its datasets of the reconstruction's processing
(Express, PromptReco), the one of the rule's primary dataset below, else the first by
name (heavy-ion prompt, which the rule does not name). Otherwise the era and stream
rule builds it:

- primary dataset: express goes through the express stream, `StreamExpress`
  (`StreamExpressCosmics` for cosmics, `StreamHIExpress` for heavy ions); prompt
  reconstruction of collisions is certified on `ZeroBias`, of cosmics on `Cosmics`.
  Heavy-ion prompt datasets change name from year to year (HIMinimumBias0,
  HIPhysicsRawPrime0): no rule, no name.
- era: the run's OMS era, `Run` prefixed to OMS's short form (`2018D` -> `Run2018D`).
- processing: `Express` or `PromptReco`; version: that of the newest earlier run with a
  known name of the same primary dataset, era and processing, else v1 (a new era's
  first processing).

On the 2018 pairs, whose Certhelper datasets are DQMIO names, the rule gives the name
Certhelper recorded for 94% of them with each run's era taken from its fill
(tests/recommender/test_dqm_datasets.py); the rest are commissioning-era runs between
fills and a prompt version bumped mid-era.

A run without an era, a reconstruction other than express or prompt, or a class the
rule does not cover gets no name: the link then names no dataset, and the page says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestion.models import RunClass
from ingestion.selectors import run_dqmio_datasets, run_eras

from .models import Reconstruction, RunReconstruction

DQMIO_NAME = re.compile(r"^/(?P<primary>[^/]+)/(?P<era>[^/-]+)-(?P<processing>[^/]+)-v(?P<version>\d+)/DQMIO$")
PROCESSING = {Reconstruction.EXPRESS: "Express", Reconstruction.PROMPT: "PromptReco"}
EXPRESS_STREAMS = {
    RunClass.COLLISIONS_PP: "StreamExpress",
    RunClass.COMMISSIONING: "StreamExpress",
    RunClass.SPECIAL: "StreamExpress",
    RunClass.COSMICS: "StreamExpressCosmics",
    RunClass.HEAVY_ION: "StreamHIExpress",
}
PROMPT_PRIMARY = {
    RunClass.COLLISIONS_PP: "ZeroBias",
    RunClass.COMMISSIONING: "ZeroBias",
    RunClass.SPECIAL: "ZeroBias",
    RunClass.COSMICS: "Cosmics",
}
SHORT_ERA = re.compile(r"^\d{4}[A-Z]$")


@dataclass(frozen=True)
class DqmDataset:
    name: str  # the DQMIO dataset, "" when none can be known
    how: str  # "recorded" (a known DQMIO name), "DIALS", "era rule", or why there is none


def is_dqmio(name: str | None) -> bool:
    return bool(name) and DQMIO_NAME.match(name.strip()) is not None


def era_name(era: str | None) -> str:
    """The era as dataset names spell it: OMS writes 2018 eras short (`2018D`)."""
    era = (era or "").strip()
    return f"Run{era}" if SHORT_ERA.match(era) else era


def primary_dataset(*, run_class: str, reconstruction: str) -> str:
    if reconstruction == Reconstruction.EXPRESS:
        return EXPRESS_STREAMS.get(run_class, "")
    if reconstruction == Reconstruction.PROMPT:
        return PROMPT_PRIMARY.get(run_class, "")
    return ""


def dqmio_name(*, primary: str, era: str, reconstruction: str, version: int = 1) -> str:
    return f"/{primary}/{era}-{PROCESSING[reconstruction]}-v{version}/DQMIO"


def dqm_dataset_by_rule(
    *, run_class: str, era: str | None, reconstruction: str, versions: dict[tuple[str, str, str], int]
) -> DqmDataset:
    """The rule's name for a run; `versions` maps (primary, era, processing) to the
    version of the newest earlier run with a known name."""
    if reconstruction not in PROCESSING:
        return DqmDataset("", f"no DQMIO rule for {reconstruction}")
    primary = primary_dataset(run_class=run_class, reconstruction=reconstruction)
    if not primary:
        return DqmDataset("", "no DQMIO rule for this run class")
    era = era_name(era)
    if not era:
        return DqmDataset("", "the run's era is unknown")
    version = versions.get((primary, era, PROCESSING[reconstruction]), 1)
    return DqmDataset(dqmio_name(primary=primary, era=era, reconstruction=reconstruction, version=version), "era rule")


def dqm_dataset_from_dials(*, names: list[str], run_class: str, reconstruction: str) -> str:
    """Of the DQMIO datasets DIALS lists for a run, the one of `reconstruction`, or ""."""
    processing = PROCESSING.get(reconstruction)
    if processing is None:
        return ""
    candidates = sorted(
        name for name in names if (match := DQMIO_NAME.match(name.strip())) and match["processing"] == processing
    )
    primary = primary_dataset(run_class=run_class, reconstruction=reconstruction)
    preferred = [name for name in candidates if DQMIO_NAME.match(name)["primary"] == primary]
    return (preferred or candidates or [""])[0]


def dqm_datasets_for(*, run_numbers: list[int], reconstruction: str) -> dict[int, DqmDataset]:
    """The DQMIO dataset of each run's reconstruction: the recorded one, else DIALS's,
    else the rule's."""
    recorded = {
        number: dataset.strip()
        for number, dataset in RunReconstruction.objects.filter(
            run__run_number__in=run_numbers, reconstruction=reconstruction
        ).values_list("run__run_number", "dataset")
        if is_dqmio(dataset)
    }
    found = {number: DqmDataset(name, "recorded") for number, name in recorded.items()}
    missing = [n for n in run_numbers if n not in found]
    classes_eras = run_eras(run_numbers=missing)
    for number, names in run_dqmio_datasets(run_numbers=missing).items():
        run_class = classes_eras.get(number, ("", ""))[0]
        name = dqm_dataset_from_dials(names=names, run_class=run_class, reconstruction=reconstruction)
        if name:
            found[number] = DqmDataset(name, "DIALS")
    missing = [n for n in missing if n not in found]
    for number, (run_class, era) in classes_eras.items():
        if number in found:
            continue
        era = era_name(era)
        primary = primary_dataset(run_class=run_class, reconstruction=reconstruction)
        versions = (
            _version_before(primary=primary, era=era, reconstruction=reconstruction, run_number=number)
            if primary and era
            else {}
        )
        found[number] = dqm_dataset_by_rule(
            run_class=run_class, era=era, reconstruction=reconstruction, versions=versions
        )
    for number in missing:
        found.setdefault(number, DqmDataset("", "RefRun has no OMS record of the run"))
    return found


def _version_before(*, primary: str, era: str, reconstruction: str, run_number: int) -> dict[tuple[str, str, str], int]:
    processing = PROCESSING[reconstruction]
    prefix = f"/{primary}/{era}-{processing}-v"
    newest = (
        RunReconstruction.objects.filter(
            reconstruction=reconstruction, run__run_number__lte=run_number, dataset__startswith=prefix
        )
        .order_by("-run__run_number")
        .values_list("dataset", flat=True)
        .first()
    )
    match = DQMIO_NAME.match((newest or "").strip())
    return {(primary, era, processing): int(match["version"])} if match else {}
