"""Numbers the simulation draws from, fitted on the real CMS dumps.

Produced by

    .venv/bin/python bench/calibrate_simulation.py ../shared/data

from these files of the shared data directory (see its README.md):
oms_fills_2009_2022.csv.gz (fill stable-beam length, turnaround, bunch schemes),
oms_fills_2018.csv.gz (peak lumi and pileup, PbPb fills),
oms_runs_2018_collisions.csv.gz (run-level lumi decay, runs per fill, B field),
oms_runs_2018_apr_may_all.csv.gz (global-run durations and classes),
oms_lumisections_2018_apr_may.csv.gz (LS-level decay, pileup per bunch, HV ramp),
cosmics_counter_2024.csv (cosmics durations and B field off, 2024),
apv_mode_runs_2016_2021.csv (PEAK periods), runs_features_merged.csv.gz (PV/pileup),
certhelper_pairs.csv.gz (labels per run, reference lifetime, switches, new references).

Durations are lognormal: `median` in seconds, `sigma` of the natural log.
Values marked ASSUMED have no source in the dumps (Run 3 fills after 2022, the
calendar); they are round numbers from the public LHC schedules.
"""

# --- Fills -------------------------------------------------------------------
# Stable-beam length of pp physics fills (>= 100 colliding bunches), 2022.
FILL_STABLE_BEAM_S = {"median": 23392.0, "sigma": 1.072}  # p10 3648 s, p90 48685 s; 2018: 32318 s
# End of one stable-beam period to the start of the next, same year.
TURNAROUND_S = {"median": 23383.0, "sigma": 0.868}  # p10 9345 s, p90 85921 s
# Bunch schemes of physics fills after the intensity ramp, fraction of fills (2022,
# the only Run-3 year in the dumps; 2023 and 2024 reuse it).
BUNCH_SCHEMES = {2450: 0.381, 2448: 0.162, 1922: 0.105, 2400: 0.105, 590: 0.076, 974: 0.076, 302: 0.048, 1538: 0.048}
# The first physics fills of 2022, in order: the intensity ramp every year starts with.
RAMP_UP_SCHEMES = [2, 2, 3, 2, 8, 62, 62, 64, 302, 326, 590, 590, 590, 974, 1214, 1538, 1922]
# Peak luminosity of pp fills with >= 1000 bunches, 10^34 cm^-2 s^-1 (2018).
PEAK_LUMI_1E34 = {"median": 1.8, "sigma": 0.12}  # p10 1.5, p90 2.0 (sigma from p10/p90, tails are MD fills)
FULL_SCHEME_BUNCHES = 2450
# PbPb fills (2018): colliding bunches, peak lumi in 10^27 cm^-2 s^-1, stable-beam length.
HEAVY_ION_BUNCH_SCHEMES = {733: 0.486, 620: 0.297, 460: 0.135, 288: 0.081}
HEAVY_ION_PEAK_LUMI_1E27 = {"median": 3.0, "sigma": 0.512}
HEAVY_ION_STABLE_BEAM_S = {"median": 27610.7, "sigma": 0.423}

# --- Luminosity along a fill -----------------------------------------------
# Exponential lifetime of the instantaneous luminosity, hours: LS-level fits per fill
# (2018 Apr-May, 25 fills); run-level init/end ratios give 12.2 h (sigma 0.36).
LUMI_DECAY_H = {"median": 14.2, "sigma": 0.193}
# pileup = K * L[10^34] / colliding bunches (OMS's own relation; sigma_inel / f_rev).
PILEUP_PER_LUMI_PER_BUNCH = 71167.0
# PbPb inelastic cross-section over pp's (7.7 b / 80 mb). ASSUMED (physics constant).
HEAVY_ION_PILEUP_FACTOR = 96.0
# Recorded over delivered, stable-beam LS.
RECORDED_OVER_DELIVERED = 0.9348
# Reconstructed primary vertices per pileup interaction (median run ratio, 2018).
PV_PER_PILEUP = 0.727
# Lumisections at the start of a run with the tracker HV still ramping (median 0, p90 2).
HV_RAMP_LS_MAX = 2

# --- Runs -------------------------------------------------------------------
# Runs per pp fill (2018): median 2, p90 6.
RUNS_PER_FILL = {"median": 2.0, "sigma": 0.762}
# Run durations, s. Collisions: stable-beam global runs 2018; cosmics: 2024 counter.
RUN_DURATION_S = {
    "collisions_pp": {"median": 1067.5, "sigma": 1.663},
    "cosmics": {"median": 1396.4, "sigma": 1.868},
    "special": {"median": 758.0, "sigma": 1.349},
    "commissioning": {"median": 861.0, "sigma": 1.342},
}
# Global runs by class, 2018 Apr-May (special: circulating, tests, alignment...).
GLOBAL_RUN_CLASS_FRACTION_SPRING = {"special": 0.424, "collisions_pp": 0.331, "cosmics": 0.245}
# Mean run-number step between consecutive global runs (private runs in between).
RUN_NUMBER_STEP_MEAN = 2.31
# First run number of each year (data README); later years continue the trend.
YEAR_FIRST_RUN = {2022: 347000, 2023: 362800, 2024: 376000}
RUN_NUMBERS_PER_YEAR = 14000

# --- B field and APV mode ------------------------------------------------------
# Cosmics runs with the magnet off, early 2024 (CRUZET before CRAFT).
COSMICS_B_OFF_FRACTION = 0.515
# Collision runs with the magnet off (2018).
COLLISIONS_B_OFF_FRACTION = 0.015
B_FIELD_ON_T = 3.8
B_FIELD_OFF_T = 0.02
# Cosmics runs in PEAK mode: 0.57 %, in 4 blocks of 4.25 runs on average (2016-2021).
APV_PEAK_FRACTION = 0.0057
APV_PEAK_BLOCK_RUNS = 4.25

# --- Labels (Certhelper pairs, Run 3) ----------------------------------------
LABELS_PER_RUN = {"express+prompt": 0.771, "prompt": 0.207, "express": 0.022}
# Runs certified in both: same reference in express and prompt.
EXPRESS_PROMPT_SAME_REFERENCE = 0.81
# Certified runs by class.
CERTIFIED_CLASS_FRACTION = {
    "cosmics": 0.621,
    "collisions_pp": 0.28,
    "heavy_ion": 0.04,
    "commissioning": 0.036,
    "special": 0.023,
}
# Persistence top-1 on the real pairs: all years 0.938; 2022 0.938, 2023 0.955, 2024 0.958.
PERSISTENCE_TOP1 = 0.938
# Of the switches, the share whose new reference was never used before.
SWITCH_NEW_FRACTION = 0.186
# Labels between two switches of a group: median 4, p90 44 (long heavy tail).
REFERENCE_LIFETIME_LABELS = {"median": 4.0, "sigma": 1.473}
# Distinct references per (year, reconstruction, class) group, Run 3.
DISTINCT_REFERENCES_PER_GROUP_YEAR = 8.07
# Pairs per year, Run 3 (2024 is cut by the held-back window).
LABEL_PAIRS_PER_YEAR = {2022: 2771, 2023: 2861}
# Run-number distance from a new reference to its first target: median 75.
NEW_REFERENCE_AGE_RUNS = {"median": 75.0, "sigma": 2.612}
# Of the new references used by both, the share used first (in run order) by express.
# Prompt certifies ~2 days later, so in *run* order it often switches on older runs.
NEW_REFERENCE_EXPRESS_FIRST_IN_RUN_ORDER = 0.39
# Switches with features on both references (2018 mostly): the condition that differs.
SWITCH_CAUSE_FRACTION = {"bunches_colliding": 0.344, "b_field": 0.009, "apv_mode": 0.0, "none_known": 0.647}

# --- Calendar (ASSUMED, public LHC schedules of 2022-2024) -------------------------
# Day of year: cosmics commissioning, beam commissioning, pp physics, heavy ions, end.
CALENDAR_DAYS = {"cosmics_start": 15, "beam_start": 75, "physics_start": 110, "year_end": 340}
# Heavy-ion period length in days, per year (2022 was a pilot).
HEAVY_ION_DAYS = {2022: 10, 2023: 35, 2024: 21}
HEAVY_ION_DAYS_DEFAULT = 25
# A technical stop / machine-development block every so many days, lasting so long:
# long cosmics runs are taken then.
TECHNICAL_STOP_EVERY_DAYS = 45
TECHNICAL_STOP_DAYS = 5
# pp eras (Run{year}B, C, ...) last about this many days.
ERA_DAYS = 28
BEAM_ENERGY_GEV = 6800.0
