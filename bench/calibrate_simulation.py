"""Fit the numbers the demo simulation uses, from the real CMS dumps.

    .venv/bin/python bench/calibrate_simulation.py ../shared/data

Reads the shared data directory (see its README.md), prints the fitted numbers
as a Python literal. They are copied by hand into
demo/simulation/calibration.py, so the app never needs the data at
runtime. Offline tool: pandas is fine here.
"""

import argparse
import math
import pprint
from pathlib import Path

import numpy as np
import pandas as pd

# First run of each year (data README).
YEAR_FIRST_RUN = [(2017, 287000), (2018, 308000), (2019, 328000), (2022, 347000), (2023, 362800), (2024, 376000)]
LS_SECONDS = 23.31


def _year(run_number: int) -> int:
    year = 2016
    for y, first in YEAR_FIRST_RUN:
        if run_number >= first:
            year = y
    return year


def _lognormal(values: pd.Series) -> dict:
    """Median and log-sigma of a positive sample, plus its quantiles for a sanity check."""
    v = values[values > 0].astype(float)
    logs = np.log(v)
    return {
        "median": round(float(np.exp(logs.median())), 1),
        "sigma": round(float(logs.std()), 3),
        "p10": round(float(v.quantile(0.1)), 1),
        "p90": round(float(v.quantile(0.9)), 1),
        "n": len(v),
    }


def _run_class_from_dataset(dataset: str) -> str:
    name = str(dataset or "")
    if not name.startswith("/"):
        return ""
    low = name.lower()
    if "cosmic" in low:
        return "cosmics"
    if "/hi" in low or "hi/" in low or "hi-" in low or "hispecial" in low or "hirun" in low:
        return "heavy_ion"
    if "commissioning" in low:
        return "commissioning"
    if "special" in low:
        return "special"
    return "collisions_pp"


def fills(data: Path) -> dict:
    f7 = pd.read_csv(data / "oms_fills_2009_2022.csv.gz")
    f7["year"] = f7.oms_start_time.str[:4].astype(float)
    f7["sb_s"] = (
        pd.to_datetime(f7.oms_end_stable_beam, utc=True) - pd.to_datetime(f7.oms_start_stable_beam, utc=True)
    ).dt.total_seconds()
    physics = f7[(f7.oms_bunches_colliding >= 100) & (f7.oms_fill_type_runtime == "PROTONS") & (f7.sb_s > 600)]
    out: dict = {}
    out["stable_beam_seconds"] = {y: _lognormal(physics[physics.year == y].sb_s) for y in (2017, 2018, 2022)}
    # Gap between the end of one stable-beam period and the start of the next (turnaround).
    p = physics.sort_values("oms_fill_number")
    starts = pd.to_datetime(p.oms_start_stable_beam, utc=True)
    ends = pd.to_datetime(p.oms_end_stable_beam, utc=True)
    gap = (starts.shift(-1) - ends).dt.total_seconds()
    gap = gap[(gap > 0) & (gap < 5 * 86400) & (p.year.shift(-1) == p.year)]
    out["turnaround_seconds"] = _lognormal(gap)
    schemes = {}
    for y in (2017, 2018, 2022):
        counts = physics[physics.year == y].oms_bunches_colliding.astype(int).value_counts()
        top = counts[counts >= 3].head(8)
        schemes[y] = {int(k): round(float(v) / float(top.sum()), 3) for k, v in top.items()}
    out["bunches_colliding_schemes"] = schemes
    # Intensity ramp: bunch counts of the first physics fills of 2022.
    ramp = f7[(f7.year == 2022) & (f7.oms_bunches_colliding > 0) & (f7.oms_fill_type_runtime == "PROTONS")]
    out["ramp_up_2022_first_schemes"] = [
        int(b) for b in ramp.sort_values("oms_fill_number").oms_bunches_colliding.head(30)
    ]
    out["physics_fills_per_year"] = {y: int((physics.year == y).sum()) for y in (2017, 2018, 2022)}
    # Peak pileup of 2018 physics fills (10^34 units there) and its relation to bunches.
    f6 = pd.read_csv(data / "oms_fills_2018.csv.gz")
    pp = f6[(f6.fill_type_runtime == "PROTONS") & (f6.bunches_colliding >= 1000) & (f6.peak_pileup > 0)]
    out["peak_pileup_2018"] = _lognormal(pp.peak_pileup)
    out["peak_lumi_2018_1e34"] = _lognormal(pp.peak_lumi)
    # 2018 PbPb fills: luminosity in 10^27 there.
    hi = f6[(f6.fill_type_runtime == "PB") & (f6.bunches_colliding >= 100)]
    counts = hi.bunches_colliding.astype(int).value_counts().head(4)
    out["heavy_ion_2018"] = {
        "bunches_colliding": {int(k): round(float(v) / float(counts.sum()), 3) for k, v in counts.items()},
        "peak_lumi_1e27": _lognormal(hi.peak_lumi),
        "stable_beam_seconds": _lognormal(
            (pd.to_datetime(hi.end_stable_beam) - pd.to_datetime(hi.start_stable_beam)).dt.total_seconds()
        ),
    }
    return out


def lumi_decay(data: Path) -> dict:
    out: dict = {}
    runs = pd.read_csv(data / "oms_runs_2018_collisions.csv.gz")
    r = runs[
        (runs.init_lumi > 0.2) & (runs.end_lumi > 0.05) & (runs.duration > 1800) & (runs.end_lumi < runs.init_lumi)
    ]
    tau_h = -r.duration / np.log(r.end_lumi / r.init_lumi) / 3600
    out["run_level_decay_hours"] = _lognormal(tau_h[(tau_h > 0) & (tau_h < 200)])
    out["run_init_lumi_1e34"] = _lognormal(r.init_lumi)
    ls = pd.read_csv(data / "oms_lumisections_2018_apr_may.csv.gz")
    s = ls[(ls.beam1_stable == 1) & (ls.init_lumi > 0.05)].copy()
    taus = []
    for _, g in s.groupby("fill_number"):
        if len(g) < 200:
            continue
        g = g.sort_values(["run_number", "lumisection_number"])
        t = np.arange(len(g)) * LS_SECONDS / 3600
        slope = np.polyfit(t, np.log(g.init_lumi.to_numpy()), 1)[0]
        if slope < 0:
            taus.append(-1 / slope)
    out["ls_level_decay_hours"] = _lognormal(pd.Series(taus))
    f6 = pd.read_csv(data / "oms_fills_2018.csv.gz")
    m = s.merge(f6[["fill_number", "bunches_colliding"]], on="fill_number")
    k = m.pileup / (m.init_lumi / m.bunches_colliding)
    # pileup = k * L / n_bunches; k = sigma_inel / f_rev in 10^34 units (OMS's own formula).
    out["pileup_per_lumi_per_bunch_1e34"] = round(float(k.median()), 0)
    merged = pd.read_csv(data / "runs_features_merged.csv.gz").dropna(subset=["pv_mean", "ls_pileup_mean"])
    merged = merged[merged.ls_pileup_mean > 1]
    out["pv_mean_over_pileup_2018"] = round(float((merged.pv_mean / merged.ls_pileup_mean).median()), 3)
    out["ls_recorded_over_delivered"] = round(float(s.recorded_lumi.sum() / s.delivered_lumi.sum()), 4)
    # HV ramp at the start of stable beams: LS with beams stable but tracker not ready.
    first = s.sort_values("lumisection_number").groupby("run_number").head(5)
    out["ls_first5_tracker_not_ready_fraction"] = round(float((first.tibtid_ready == 0).mean()), 3)
    per_run = s.groupby("run_number").apply(
        lambda g: int((g.sort_values("lumisection_number").tibtid_ready == 0).cumprod().sum())
    )
    out["hv_ramp_ls"] = {"median": float(per_run.median()), "p90": float(per_run.quantile(0.9))}
    return out


def runs(data: Path) -> dict:
    out: dict = {}
    r = pd.read_csv(data / "oms_runs_2018_apr_may_all.csv.gz")
    g = r[r.sequence == "GLOBAL-RUN"].copy()
    g["dur"] = (pd.to_datetime(g.end_time, utc=True) - pd.to_datetime(g.start_time, utc=True)).dt.total_seconds()

    def cls(mode: str) -> str:
        mode = str(mode)
        if "cosmic" in mode:
            return "cosmics"
        if mode.startswith("collisionshi"):
            return "heavy_ion"
        if mode == "collisions2018":
            return "collisions_pp"
        if "commissioning" in mode:
            return "commissioning"
        return "special"

    g["cls"] = g.l1_hlt_mode.map(cls)
    out["global_run_class_fraction_2018_apr_may"] = {
        k: round(float(v), 3) for k, v in g.cls.value_counts(normalize=True).items()
    }
    out["run_duration_seconds"] = {c: _lognormal(g[g.cls == c].dur) for c in ("collisions_pp", "cosmics", "special")}
    stable = g[(g.cls == "collisions_pp") & (g.stable_beam == True)]  # noqa: E712
    out["run_duration_seconds"]["collisions_pp_stable"] = _lognormal(stable.dur)
    cc = pd.read_csv(data / "cosmics_counter_2024.csv")
    out["run_duration_seconds"]["cosmics_2024"] = _lognormal(cc.duration)
    out["cosmics_2024_b_field_off_fraction"] = round(float((cc.b_field < 1).mean()), 3)
    oms = pd.read_csv(data / "oms_runs_2018_collisions.csv.gz")
    out["collisions_2018_b_field_off_fraction"] = round(float((oms.b_field.dropna() < 1).mean()), 3)
    out["runs_per_fill_2018"] = _lognormal(oms.groupby("fill_number").size())
    # Run-number step between consecutive global runs (private runs sit in between).
    steps = g.run_number.sort_values().diff().dropna()
    out["global_run_number_step"] = {"mean": round(float(steps.mean()), 2), "median": float(steps.median())}
    return out


def apv(data: Path) -> dict:
    a = pd.read_csv(data / "apv_mode_runs_2016_2021.csv").sort_values("run_number")
    a = a.drop_duplicates("run_number")
    a["year"] = a.run_number.map(_year)
    peak = a[a.apv_mode == "PEAK"]
    # PEAK periods: runs of consecutive PEAK labels in run order.
    block = (a.apv_mode != a.apv_mode.shift()).cumsum()
    blocks = a.groupby(block).agg(mode=("apv_mode", "first"), n=("run_number", "size"))
    return {
        "peak_fraction": round(float(len(peak) / len(a)), 4),
        "peak_blocks": int((blocks["mode"] == "PEAK").sum()),
        "peak_block_runs_mean": round(float(blocks[blocks["mode"] == "PEAK"].n.mean()), 2),
        "peak_runs_per_year": {int(k): int(v) for k, v in peak.groupby("year").size().items()},
    }


def labels(data: Path) -> dict:
    p = pd.read_csv(data / "certhelper_pairs.csv.gz")
    p = p[p.run_reconstruction_type.isin(["express", "prompt"])].copy()
    p["cls"] = p.dataset.map(_run_class_from_dataset)
    p = p[p.cls != ""]
    out: dict = {}
    run3 = p[p.run_number >= 347000]
    per_run = run3.groupby("run_number").run_reconstruction_type.agg(lambda s: "+".join(sorted(set(s))))
    out["labels_per_run_run3"] = {k: round(float(v), 3) for k, v in per_run.value_counts(normalize=True).items()}
    both = run3.pivot_table(
        index="run_number", columns="run_reconstruction_type", values="reference_run_number", aggfunc="first"
    ).dropna()
    out["express_prompt_same_reference_run3"] = round(float((both.express == both.prompt).mean()), 3)
    out["certified_class_fraction_run3"] = {
        k: round(float(v), 3) for k, v in run3.drop_duplicates("run_number").cls.value_counts(normalize=True).items()
    }
    # Reference lifetime, switches and new references, per (reco, class) group, in run order.
    p = p.sort_values(["run_number", "run_reconstruction_type"])
    seen: set[int] = set()
    last: dict = {}
    first_use: dict = {}
    switches = new = scored = 0
    segments: list[int] = []
    seg_len: dict = {}
    for row in p.itertuples():
        key = (row.run_reconstruction_type, row.cls)
        ref = row.reference_run_number
        if ref >= row.run_number:
            continue
        if key in last:
            scored += 1
            if last[key] != ref:
                switches += 1
                segments.append(seg_len[key])
                seg_len[key] = 0
                if ref not in seen:
                    new += 1
        seg_len[key] = seg_len.get(key, 0) + 1
        last[key] = ref
        seen.add(ref)
        first_use.setdefault(ref, {}).setdefault(row.run_reconstruction_type, row.run_number)
    out["persistence_top1_all_years"] = round(1 - switches / scored, 4)
    out["switch_new_fraction"] = round(new / switches, 3)
    out["reference_lifetime_labels"] = _lognormal(pd.Series(segments))
    both_first = [v for v in first_use.values() if "express" in v and "prompt" in v]
    out["new_reference_express_first_fraction"] = round(
        float(np.mean([v["express"] <= v["prompt"] for v in both_first])), 3
    )
    # Age of a new reference when first used: run-number distance to the target.
    ages = []
    seen2: set[int] = set()
    for row in p.itertuples():
        ref = row.reference_run_number
        if ref < row.run_number and ref not in seen2:
            ages.append(row.run_number - ref)
        seen2.add(ref)
    out["new_reference_age_run_numbers"] = _lognormal(pd.Series(ages))
    # Per-year switches for Run 3, to compare with the simulation.
    per_year = {}
    for year in (2022, 2023, 2024):
        sub = p[p.run_number.map(_year) == year]
        last_y: dict = {}
        sw = sc = 0
        for row in sub.itertuples():
            key = (row.run_reconstruction_type, row.cls)
            if row.reference_run_number >= row.run_number:
                continue
            if key in last_y:
                sc += 1
                sw += last_y[key] != row.reference_run_number
            last_y[key] = row.reference_run_number
        per_year[year] = {"labels": len(sub), "persistence_top1": round(1 - sw / max(sc, 1), 4), "switches": sw}
    out["per_year_run3"] = per_year
    out["distinct_references_per_group_year_run3"] = round(
        float(
            run3.assign(year=run3.run_number.map(_year))
            .groupby(["year", "run_reconstruction_type", "cls"])
            .reference_run_number.nunique()
            .mean()
        ),
        2,
    )
    out["label_pairs_per_year_run3"] = {
        int(k): int(v) for k, v in run3.groupby(run3.run_number.map(_year)).size().items()
    }
    return out


def switch_causes(data: Path) -> dict:
    """Which condition differs between the previous reference and the new one (2018, where features exist)."""
    p = pd.read_csv(data / "certhelper_pairs.csv.gz")
    p = p[p.run_reconstruction_type.isin(["express", "prompt"])].copy()
    p["cls"] = p.dataset.map(_run_class_from_dataset)
    feats = pd.read_csv(data / "runs_features_merged.csv.gz").set_index("run_number")
    p = p.sort_values("run_number")
    last: dict = {}
    causes = {"b_field": 0, "apv_mode": 0, "bunches_colliding": 0, "none_known": 0}
    n = 0
    for row in p.itertuples():
        key = (row.run_reconstruction_type, row.cls)
        ref = row.reference_run_number
        prev = last.get(key)
        last[key] = ref
        if prev is None or prev == ref or prev not in feats.index or ref not in feats.index:
            continue
        a, b = feats.loc[prev], feats.loc[ref]
        n += 1
        hit = False
        if pd.notna(a.b_field) and pd.notna(b.b_field) and (a.b_field > 1) != (b.b_field > 1):
            causes["b_field"] += 1
            hit = True
        if pd.notna(a.apv_mode) and pd.notna(b.apv_mode) and a.apv_mode != b.apv_mode:
            causes["apv_mode"] += 1
            hit = True
        if (
            pd.notna(a.bunches_colliding)
            and pd.notna(b.bunches_colliding)
            and a.bunches_colliding != b.bunches_colliding
        ):
            causes["bunches_colliding"] += 1
            hit = True
        causes["none_known"] += not hit
    return {"switches_with_features": n, "fraction": {k: round(v / max(n, 1), 3) for k, v in causes.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the shared data directory (../shared/data)")
    args = parser.parse_args()
    result = {
        "fills": fills(args.data),
        "lumi": lumi_decay(args.data),
        "runs": runs(args.data),
        "apv": apv(args.data),
        "labels": labels(args.data),
        "switch_causes": switch_causes(args.data),
    }
    pprint.pprint(result, width=110, sort_dicts=False)
    assert not math.isnan(result["labels"]["persistence_top1_all_years"])


if __name__ == "__main__":
    main()
