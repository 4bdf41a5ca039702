"""RefRun's recommender side by side with the predecessor's method, and how RefRun's
recommendation time grows with the number of runs in the database.

    .venv/bin/python bench/compare_predecessor.py [--sizes 1000,10000,30000,100000] [--write]
        [--data ../shared/data] [--work-dir $TMP/compare] [--real-database FILE]

1. Real pairs. Run features from a SQLite database filled by
   `import_oms_dump ../shared/data` (--real-database: a copy of a database already
   filled so, else built), pairs from ../shared/data/certhelper_pairs.csv.gz, split at run 362800
   (train before, test from; EVALUATION.md's cut 1). RefRun's ranker is fitted on the
   train pairs; both methods rank the SAME candidate pool for the SAME test targets,
   prequentially (recommender.ml.evaluation). Accuracy: top-1/top-5 of headline pairs.
   Time per recommendation, on every --every-th test target: candidate pool (shared)
   + RefRun's pair features and predict, against pool + the predecessor's PCA distance
   ranking; both fitted once beforehand (not timed).
2. Scaling. For each size N, a SQLite file filled by `simulate --seed 1 --runs N
   --lumisections-for-last 0`; ONE model (trained on the 10,000-run database) is made
   the active model of every database, so only the database grows. In a fresh process
   per size: 20 new runs (copies of the newest labelled run, later than every label:
   the shifter's case), then `recommending.recommendations_for` (top 5 with reasons,
   as the run page asks) 10 times each: median and p95 of the warm calls, the cold
   first call, and the predecessor's ranking of the same pools.

OMP_NUM_THREADS=1 unless set (see the report: OpenMP threads on a shared 2-core
machine slow scikit-learn's predict by an order of magnitude). Files go to --work-dir
(default: REFRUN_BENCH_DIR, else refrun_compare in the system's temporary directory).
`--write` puts the tables in the "Side by side" section of BENCHMARKS.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import (
    REPO,
    database_prepare,
    machine,
    manage,
    median,
    new_runs,
    percentile,
    scratch_dir,
    section_write,
)

# set from the command line in main(); the defaults are what a plain run uses
WORK = scratch_dir("compare")
DATA = REPO.parent / "shared" / "data"
CUT = 362800
MODEL_SIZE = 10000
NEW_RUNS, CALLS_PER_RUN = 20, 10


# --- 1. real pairs ------------------------------------------------------------------------


def real_pairs(every: int) -> dict:
    import numpy as np

    from ingestion.parsers import parse_certhelper_pairs
    from recommender.ml.baselines import PredecessorRanker
    from recommender.ml.candidates import candidate_pool
    from recommender.ml.dataset import labels_from_pair_rows, run_classes_of
    from recommender.ml.evaluation import prequential_records, summary
    from recommender.ml.model import fit_ranker, walk
    from recommender.ml.pair_features import pair_features
    from recommender.ml.run_table import RunTable
    from recommender.selectors import run_features_frame

    frame = run_features_frame()
    runs = RunTable(frame)
    parsed = parse_certhelper_pairs(DATA / "certhelper_pairs.csv.gz")
    labels = labels_from_pair_rows(parsed.rows, run_classes_of(frame))
    train, test = labels[labels["run_number"] < CUT], labels[labels["run_number"] >= CUT]
    t0 = time.perf_counter()
    ranker = fit_ranker(train, runs)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predecessor = PredecessorRanker(runs)
    pca_s = time.perf_counter() - t0

    records = prequential_records(train, test, runs, rankers={"model": ranker})
    figures = summary(records, ["model", "predecessor", "persistence"])

    # Timing on the same targets, in run order, each with the history of earlier runs.
    test_keys = {(int(r.run_number), str(r.reconstruction)) for r in test.itertuples(index=False)}
    pool_t, refrun_t, pred_t, pools = [], [], [], []
    seen = 0
    both = labels.sort_values("run_number", kind="stable")
    for history, rows in walk(both):
        for row in rows:
            if (row.target.run_number, row.target.reconstruction) not in test_keys:
                continue
            seen += 1
            if seen % every:
                continue
            a = time.perf_counter()
            pool = candidate_pool(history, row.target, runs, hard_rules=ranker.hard_rules)
            b = time.perf_counter()
            if not pool:
                continue
            features = pair_features(history, row.target, pool, runs)
            ranker.order(pool, features)
            c = time.perf_counter()
            predecessor.rank(row.target, pool)
            d = time.perf_counter()
            pool_t.append(b - a)
            refrun_t.append(c - b)
            pred_t.append(d - c)
            pools.append(len(pool))
    return {
        "figures": figures,
        "train_pairs": len(train),
        "test_pairs": len(test),
        "runs": len(frame),
        "fit_s": fit_s,
        "pca_s": pca_s,
        "timed": len(pool_t),
        "pool_median": float(np.median(pools)),
        "pool_ms": median(pool_t) * 1000,
        "refrun_ms": median(refrun_t) * 1000,
        "refrun_p95_ms": percentile(refrun_t, 95) * 1000,
        "pred_ms": median(pred_t) * 1000,
        "pred_p95_ms": percentile(pred_t, 95) * 1000,
        "refrun_total_ms": median([p + r for p, r in zip(pool_t, refrun_t, strict=True)]) * 1000,
        "pred_total_ms": median([p + r for p, r in zip(pool_t, pred_t, strict=True)]) * 1000,
    }


def real_database(existing: Path | None) -> Path:
    """Our own copy of the database with the real run features (`existing`, or built)."""
    target = WORK / "real.sqlite3"
    if not target.exists():
        if existing is not None:
            shutil.copyfile(existing, target)
        else:
            env = {"DATABASE_URL": f"sqlite:///{target}"}
            manage(env, "migrate", "--verbosity", "0")
            manage(env, "import_oms_dump", str(DATA))
    return target


# --- 2. scaling ---------------------------------------------------------------------------


def scaling_child(model: dict) -> dict:
    """In a process whose DATABASE_URL is one size's database."""

    from ingestion.models import Run
    from recommender import recommending, serving
    from recommender.ml.baselines import PredecessorRanker
    from recommender.ml.candidates import candidate_pool
    from recommender.ml.dataset import label_run_class
    from recommender.ml.run_table import Target
    from recommender.models import ModelVersion, ModelVersionStatus, ReferencePair, RunReconstruction

    if not ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE, sha256=model["sha256"]).exists():
        ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).update(status=ModelVersionStatus.RETIRED)
        ModelVersion.objects.create(**model, status=ModelVersionStatus.ACTIVE, was_ever_active=True)
    labelled_max = max(ReferencePair.objects.values_list("run_reconstruction__run__run_number", flat=True))
    targets = new_runs(after=labelled_max, n=NEW_RUNS)
    template = Run.objects.filter(run_number__lte=labelled_max).order_by("-run_number").first()
    reco = RunReconstruction.objects.filter(run=template).first()

    started = time.perf_counter()
    recommending.recommendations_for(run_number=targets[0][0], reconstruction=targets[0][1])
    cold = time.perf_counter() - started
    warm = []
    for _ in range(CALLS_PER_RUN):
        for run_number, reconstruction in targets:
            t0 = time.perf_counter()
            recommending.recommendations_for(run_number=run_number, reconstruction=reconstruction)
            warm.append(time.perf_counter() - t0)

    # The predecessor on the same pools (fitted once on this database's runs).
    cache = serving.cache
    runs = cache.run_table()
    _, history = cache.label_history()
    _, ranker = cache.model()
    t0 = time.perf_counter()
    predecessor = PredecessorRanker(runs)
    pca_s = time.perf_counter() - t0
    pred = []
    for run_number, reconstruction in targets:
        target = Target(run_number, reconstruction, label_run_class(reco.dataset or "", template.run_class))
        pool = candidate_pool(history, target, runs, hard_rules=ranker.hard_rules)
        for _ in range(CALLS_PER_RUN):
            t0 = time.perf_counter()
            predecessor.rank(target, pool)
            pred.append(time.perf_counter() - t0)
    rss = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) // 1024
    return {
        "runs": Run.objects.count(),
        "labels": ReferencePair.objects.count(),
        "cold_ms": cold * 1000,
        "median_ms": median(warm) * 1000,
        "p95_ms": percentile(warm, 95) * 1000,
        "n": len(warm),
        "pred_ms": median(pred) * 1000,
        "pred_pca_s": pca_s,
        "rss_mb": rss,
    }


def size_database(size: int) -> dict[str, str]:
    path = WORK / f"sim_{size}.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{path}", "MODEL_DIR": str(WORK / "models"), "REFRUN_VAR_DIR": str(WORK / "var")}
    database_prepare(env, runs=size, lumisections_for_last="0", train=False)
    return env


def shared_model() -> dict:
    """Train once on the MODEL_SIZE database; the fields of its ModelVersion row."""
    env = size_database(MODEL_SIZE)
    probe = (
        "import json; from recommender.models import ModelVersion as M;"
        "a = M.objects.filter(status='active').first();"
        "print(json.dumps(a and {k: getattr(a, k) for k in ('artifact','sha256','library_versions',"
        "'label_fingerprint','training_run_min','training_run_max','label_counts')}))"
    )
    found = json.loads(manage(env, "shell", "-c", probe).strip().splitlines()[-1])
    if found and (WORK / "models" / found["artifact"]).exists():
        return found
    manage(env, "train", "--force")
    return json.loads(manage(env, "shell", "-c", probe).strip().splitlines()[-1])


def scaling(sizes: list[int]) -> list[dict]:
    model = shared_model()
    out = []
    for size in sizes:
        env = size_database(size)
        print(f"measuring {size:,} runs", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--scaling-child", json.dumps(model)],
            cwd=REPO,
            env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "refrun.settings"},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"size {size} failed:\n{done.stderr[-4000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["size"] = size
        out.append(row)
        print(f"  {row}", flush=True)
    return out


# --- report -------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def report(real: dict | None, scale: list[dict], args, machine_line: str) -> str:
    lines = ["## Side by side: RefRun and the predecessor", ""]
    lines += [f"- Date: {time.strftime('%Y-%m-%d')}; machine: {machine_line} (shared); OMP_NUM_THREADS=1"]
    lines += [
        f"- Command: `.venv/bin/python bench/compare_predecessor.py --sizes {args.sizes} --every {args.every} --write`"
    ]
    if real:
        m, p = real["figures"]["model"], real["figures"]["predecessor"]
        s = real["figures"]["persistence"]
        lines += [
            "",
            f"Real pairs (certhelper_pairs.csv.gz, run features from `import_oms_dump ../shared/data`, "
            f"{real['runs']:,} runs): fit on {real['train_pairs']:,} pairs before run {CUT}, "
            f"{real['test_pairs']:,} test pairs from {CUT} scored prequentially; both methods rank the same "
            "candidate pool (RefRun's) for the same targets; headline pairs.",
            "",
            "| method | n | top-1 | top-5 | MRR | time per recommendation, median (pool + ranking) |",
            "|---|---|---|---|---|---|",
            f"| RefRun | {m['all']['n']} | {pct(m['all']['top1'])} | {pct(m['all']['top5'])} | {pct(m['all']['mrr'])} "
            f"| {real['refrun_total_ms']:.1f} ms ({real['pool_ms']:.1f} + {real['refrun_ms']:.1f}) |",
            f"| predecessor (PCA + Euclidean) | {p['all']['n']} | {pct(p['all']['top1'])} | {pct(p['all']['top5'])} "
            f"| {pct(p['all']['mrr'])} | {real['pred_total_ms']:.1f} ms ({real['pool_ms']:.1f} + "
            f"{real['pred_ms']:.2f}) |",
            f"| persistence | {s['all']['n']} | {pct(s['all']['top1'])} | {pct(s['all']['top5'])} "
            f"| {pct(s['all']['mrr'])} | - |",
            "",
            f"- **Accuracy ratio RefRun / predecessor: top-1 {m['all']['top1'] / p['all']['top1']:.2f}x, "
            f"top-5 {m['all']['top5'] / p['all']['top5']:.2f}x** "
            f"(switch slice: top-1 {pct(m['switch']['top1'])} vs {pct(p['switch']['top1'])}, "
            f"top-5 {pct(m['switch']['top5'])} vs {pct(p['switch']['top5'])})",
            f"- **Time ratio RefRun / predecessor: {real['refrun_total_ms'] / real['pred_total_ms']:.1f}x per "
            f"recommendation** (pool + ranking); ranking alone {real['refrun_ms']:.1f} ms vs "
            f"{real['pred_ms']:.2f} ms ({real['refrun_ms'] / real['pred_ms']:.0f}x); n = {real['timed']} targets "
            f"(every {args.every}th test pair), median pool {real['pool_median']:.0f} candidates. Fitted once "
            f"beforehand: RefRun {real['fit_s']:.1f} s, predecessor's PCA {real['pca_s'] * 1000:.0f} ms.",
        ]
    if scale:
        lines += [
            "",
            "Scaling: simulated databases (`simulate --seed 1 --runs N --lumisections-for-last 0`, SQLite), one "
            f"model (trained on the {MODEL_SIZE:,}-run database) active in each; {NEW_RUNS} new runs later than "
            f"every label x {CALLS_PER_RUN} warm calls of `recommendations_for` (top 5, reasons, side by side), "
            "fresh process per size.",
            "",
            "| runs asked | runs in DB | labels | RefRun median | RefRun p95 | cold first call | predecessor ranking "
            "median | peak RSS |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in scale:
            lines.append(
                f"| {r['size']:,} | {r['runs']:,} | {r['labels']:,} | {r['median_ms']:.1f} ms | {r['p95_ms']:.1f} ms "
                f"| {r['cold_ms']:.0f} ms | {r['pred_ms']:.2f} ms (+PCA fit {r['pred_pca_s'] * 1000:.0f} ms once) "
                f"| {r['rss_mb']} MB |"
            )
        first, last = scale[0], scale[-1]
        lines += [
            "",
            f"- From {first['runs']:,} to {last['runs']:,} runs ({last['runs'] / first['runs']:.0f}x): warm median "
            f"{first['median_ms']:.1f} → {last['median_ms']:.1f} ms ({last['median_ms'] / first['median_ms']:.2f}x), "
            f"cold first call {first['cold_ms']:.0f} → {last['cold_ms']:.0f} ms.",
        ]
    return "\n".join(lines)


def main() -> None:
    global WORK, DATA
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,30000,100000")
    parser.add_argument("--every", type=int, default=10, help="time every n-th test pair")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data directory (../shared/data)")
    parser.add_argument("--work-dir", type=Path, default=WORK, help="databases and models, kept between runs")
    parser.add_argument("--real-database", type=Path, help="a SQLite database filled by import_oms_dump, copied")
    parser.add_argument("--scaling-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK, DATA = args.work_dir, args.data

    import django

    if args.scaling_child:
        django.setup()
        print(json.dumps(scaling_child(json.loads(args.scaling_child))))
        return

    WORK.mkdir(parents=True, exist_ok=True)
    machine_line = machine()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    scale = scaling(sizes) if sizes else []
    real = None
    if not args.skip_real:
        os.environ["DATABASE_URL"] = f"sqlite:///{real_database(args.real_database)}"
        os.environ["REFRUN_VAR_DIR"] = str(WORK / "var")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")
        django.setup()
        print("real pairs: fitting and scoring", flush=True)
        real = real_pairs(args.every)
    text = report(real, scale, args, machine_line)
    print(text)
    if args.write:
        section_write("predecessor-comparison", text)


if __name__ == "__main__":
    main()
