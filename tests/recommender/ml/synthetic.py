"""A small synthetic certification history in the database, built with the factories.

Runs 380000.. in blocks of BLOCK; each block's runs are compared with the first run
of the previous block, so the reference switches every BLOCK runs to a run that was
never a reference before.
"""

import csv
from pathlib import Path

from ingestion.models import RunClass
from recommender.models import LabelSource, Reconstruction
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

FIRST_RUN = 380000
BLOCK = 8
DATASETS = {
    Reconstruction.EXPRESS: "/Express/Collisions2024/DQM",
    Reconstruction.PROMPT: "/PromptReco/Collisions2024/DQM",
}


def reference_of(run_number: int) -> int:
    block = (run_number - FIRST_RUN) // BLOCK
    return FIRST_RUN + max(block - 1, 0) * BLOCK


def make_runs(n_runs: int) -> list[int]:
    numbers = [FIRST_RUN + i for i in range(n_runs)]
    for i, number in enumerate(numbers):
        RunFactory(
            run_number=number,
            run_class=RunClass.COLLISIONS_PP,
            duration=3000 + 50 * (i % BLOCK),
            init_lumi=1.0 + 0.1 * (i % 5),
        )
    return numbers


def pair_rows(numbers: list[int]) -> list[dict]:
    rows = []
    for number in numbers[1:]:
        for reco, dataset in DATASETS.items():
            ref = reference_of(number)
            if ref >= number:
                ref = FIRST_RUN
            rows.append(
                {
                    "run_number": number,
                    "run_reconstruction_type": str(reco),
                    "reference_run_number": ref,
                    "reference_run_reconstruction_type": str(reco),
                    "dataset": dataset,
                }
            )
    return rows


def write_pairs(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def make_labels(rows: list[dict]) -> None:
    for row in rows:
        target = RunReconstructionFactory(
            run=RunFactory(run_number=row["run_number"]),
            reconstruction=row["run_reconstruction_type"],
            dataset=row["dataset"],
        )
        reference = RunReconstructionFactory(
            run=RunFactory(run_number=row["reference_run_number"]),
            reconstruction=row["reference_run_reconstruction_type"],
        )
        ReferencePairFactory(run_reconstruction=target, reference=reference, source=LabelSource.CERTHELPER)


def runs_compared_with(run_numbers, reference: int) -> None:
    """New pp runs, each certified (express) against `reference`: shifters deciding for it."""
    for number in run_numbers:
        ReferencePairFactory(
            run_reconstruction=RunReconstructionFactory(
                run=RunFactory(run_number=number, run_class=RunClass.COLLISIONS_PP),
                reconstruction=Reconstruction.EXPRESS,
                dataset=DATASETS[Reconstruction.EXPRESS],
            ),
            reference=RunReconstructionFactory(run__run_number=reference, reconstruction=Reconstruction.EXPRESS),
        )
