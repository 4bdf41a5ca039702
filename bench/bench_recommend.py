"""Latency of one recommendation from a warm process, with ~20,000 runs in the database.

    DATABASE_URL=sqlite:///$TMP/bench.sqlite3 MODEL_DIR=$TMP/models \
        .venv/bin/python bench/bench_recommend.py --runs 20000 --calls 200

($TMP: any scratch directory; DATABASE_URL may name a PostgreSQL database instead.)

Builds the database if it is empty (migrate, `simulate --runs N`, `train`), then asks
for recommendations for the newest run reconstructions (the shifter's case: a run
later than every label) and, separately, for older runs (history rebuilt before them).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")

import django

from bench._common import machine, new_runs, timings_line

django.setup()

from django.core.management import call_command  # noqa: E402

from ingestion.models import Run  # noqa: E402
from recommender.models import ModelVersion, ModelVersionStatus, ReferencePair, RunReconstruction  # noqa: E402
from recommender.recommending import recommendations_for  # noqa: E402
from recommender.training import model_version_train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    print(machine())
    call_command("migrate", verbosity=0)
    if not Run.objects.exists():
        started = time.perf_counter()
        call_command("simulate", "--seed", str(args.seed), "--runs", str(args.runs), "--lumisections-for-last", "0")
        print(f"simulated in {time.perf_counter() - started:.0f} s")
    if not ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).exists():
        started = time.perf_counter()
        result = model_version_train()
        print(f"trained in {time.perf_counter() - started:.0f} s: {result.status}")
    print(f"{Run.objects.count()} runs, {ReferencePair.objects.count()} labels")

    labelled_max = max(ReferencePair.objects.values_list("run_reconstruction__run__run_number", flat=True))
    newest = list(
        RunReconstruction.objects.filter(run__run_number__gt=labelled_max)
        .order_by("-run__run_number")
        .values_list("run__run_number", "reconstruction")[: args.calls]
    )
    if not newest:  # every run labelled: add a few runs the shifter has not certified yet
        newest = new_runs(after=labelled_max, n=20)
    older = list(
        RunReconstruction.objects.filter(run__run_number__lte=labelled_max)
        .order_by("-run__run_number")
        .values_list("run__run_number", "reconstruction")[200 : 200 + min(50, args.calls)]
    )

    started = time.perf_counter()
    recommendations_for(run_number=(newest or older)[0][0], reconstruction=(newest or older)[0][1])
    print(f"cold (first call: model, run features and labels loaded): {(time.perf_counter() - started) * 1000:.0f} ms")

    for name, targets in (("new runs (later than every label)", newest), ("older, labelled runs", older)):
        if not targets:
            continue
        samples, cpu = [], []
        for i in range(max(args.calls, len(targets))):
            run_number, reco = targets[i % len(targets)]
            t0, c0 = time.perf_counter(), time.process_time()
            recommendations_for(run_number=run_number, reconstruction=reco)
            samples.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        # CPU time of this process per call: on a shared machine it moves far less with the load than wall time
        print(f"warm, {name}: {timings_line(samples)}; CPU {timings_line(cpu)}")


if __name__ == "__main__":
    main()
