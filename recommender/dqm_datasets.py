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

import bisect
import re
from dataclasses import dataclass

from django.core.cache import cache

from ingestion.models import RunClass
from ingestion.selectors import run_dataset_naming

from .changes import changes_key
from .models import Reconstruction, RunReconstruction

DQMIO_NAME = re.compile(r"^/(?P<primary>[^/]+)/(?P<era>[^/-]+)-(?P<processing>[^/]+)-v(?P<version>\d+)/DQMIO$")
NAMES_CACHE_S = 3600
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
    naming = run_dataset_naming(run_numbers=missing)
    for number, (run_class, _, names) in naming.items():
        name = dqm_dataset_from_dials(names=names, run_class=run_class, reconstruction=reconstruction)
        if name:
            found[number] = DqmDataset(name, "DIALS")
    missing = [n for n in missing if n not in found]
    by_rule = {n: naming[n][:2] for n in missing if n in naming}
    versions = _versions_before(run_classes_eras=by_rule, reconstruction=reconstruction)
    for number, (run_class, era) in by_rule.items():
        found[number] = dqm_dataset_by_rule(
            run_class=run_class, era=era, reconstruction=reconstruction, versions=versions.get(number, {})
        )
    for number in missing:
        found.setdefault(number, DqmDataset("", "RefRun has no OMS record of the run"))
    return found


def _versions_before(
    *, run_classes_eras: dict[int, tuple[str, str]], reconstruction: str
) -> dict[int, dict[tuple[str, str, str], int]]:
    """Per run, the version of its rule's dataset: that of the newest run up to it whose
    dataset name has the same primary dataset, era and processing."""
    processing = PROCESSING.get(reconstruction)
    if processing is None:
        return {}
    named = _names_of_processing(reconstruction)
    versions: dict[int, dict[tuple[str, str, str], int]] = {}
    for number, (run_class, era) in run_classes_eras.items():
        primary, era = primary_dataset(run_class=run_class, reconstruction=reconstruction), era_name(era)
        runs, known = named.get((primary, era), ((), ()))
        at = bisect.bisect_right(runs, number)
        if at and known[at - 1] is not None:
            versions[number] = {(primary, era, processing): known[at - 1]}
    return versions


def _names_of_processing(reconstruction: str) -> dict[tuple[str, str], tuple[list[int], list[int | None]]]:
    """The run reconstructions named /<primary>/<era>-<processing>-v…, per (primary, era):
    their run numbers in order, and beside them the version where the name is a DQMIO
    one. A name match scans every run reconstruction, so it is cached until one of
    them changes."""
    key = f"dqm-names:{reconstruction}:{changes_key('run_reconstructions')}"
    return cache.get_or_set(key, lambda: _names_of_processing_read(reconstruction), NAMES_CACHE_S)


def _names_of_processing_read(reconstruction: str) -> dict[tuple[str, str], tuple[list[int], list[int | None]]]:
    processing = PROCESSING[reconstruction]
    prefix = re.compile(rf"^/(?P<primary>[^/]+)/(?P<era>[^/-]+)-{processing}-v")
    named: dict[tuple[str, str], tuple[list[int], list[int | None]]] = {}
    rows = (
        RunReconstruction.objects.filter(reconstruction=reconstruction, dataset__contains=f"-{processing}-v")
        .order_by("run__run_number")
        .values_list("run__run_number", "dataset")
    )
    for run_number, dataset in rows:
        dataset = dataset.strip()
        if match := prefix.match(dataset):
            dqmio = DQMIO_NAME.match(dataset)
            runs, versions = named.setdefault((match["primary"], match["era"]), ([], []))
            runs.append(run_number)
            versions.append(int(dqmio["version"]) if dqmio else None)
    return named
