"""Build simulated fills, runs, lumisections and Certhelper-like labels.

Everything here is plain Python and numpy: no ORM, so it is fast and easy to
test. One `numpy.random.Generator` seeded by the caller drives every draw, in
a fixed order, so a seed always gives the same records.

A year is laid out on a calendar (calibration.CALENDAR_DAYS): cosmics
commissioning with the magnet first off then on, beam commissioning, pp physics
fills separated by turnarounds filled with cosmics and special runs, technical
stops, a heavy-ion period and year-end cosmics. Shifters then certify runs in
the order their express (hours) and prompt (about two days) reconstructions
become available (up to the end of the last run: what they have not reached yet
is the work queue), and pick references the way the real pairs show: keep the
reference while conditions hold, switch when the era, B field, APV mode, bunch
scheme or beam type changes, and occasionally switch for no visible reason.
"""

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from . import calibration as cal

LS_SECONDS = 23.31
DAY = 86400.0
HOUR = 3600.0

COLLISIONS_PP = "collisions_pp"
HEAVY_ION = "heavy_ion"
COSMICS = "cosmics"
COMMISSIONING = "commissioning"
SPECIAL = "special"

EXPRESS = "express"
PROMPT = "prompt"

# Probability that a run of a class is certified at all (short runs never are).
# Tuned so the certified class mix matches calibration.CERTIFIED_CLASS_FRACTION.
CERTIFY_PROBABILITY = {COLLISIONS_PP: 0.93, HEAVY_ION: 0.93, COSMICS: 0.62, COMMISSIONING: 0.55, SPECIAL: 0.11}
CERTIFY_MIN_SECONDS = {COLLISIONS_PP: 300, HEAVY_ION: 300, COSMICS: 600, COMMISSIONING: 300, SPECIAL: 300}
# A switch for no visible reason, per label; tuned so persistence lands near the real 94 %.
SPONTANEOUS_SWITCH_PROBABILITY = 0.022
# On a spontaneous switch, the chance of a never-used run rather than a recent reference.
SPONTANEOUS_NEW_PROBABILITY = 0.05
# At an era change with nothing else changed, the chance the reference is kept.
ERA_KEEP_PROBABILITY = 0.5
# How far back a "good long run" may be when a new reference is chosen, in candidate runs.
NEW_REFERENCE_WINDOW = 30
# Global runs a simulated year holds at the natural density (fewer than OMS's
# ~5700: private and most special runs are left out). Scales `runs`.
SIMULATED_RUNS_PER_YEAR = 3250
# Express is certified hours after the run, prompt after Tier-0's 48 h delay.
CERTIFICATION_DELAY_H = {EXPRESS: {"median": 8.0, "sigma": 0.5}, PROMPT: {"median": 60.0, "sigma": 0.3}}

SPECIAL_MODES = ["circulating", "splashes", "lowpileup", "vdm", "ecal-timing-scan", "testing"]
COLLISION_COMPONENTS = [
    "CSC", "CTPPS", "CTPPS_TOT", "DAQ", "DCS", "DQM", "DT", "ECAL", "ES",
    "GEM", "HCAL", "PIXEL", "RPC", "SCAL", "TCDS", "TRACKER", "TRG",
]  # fmt: skip
COSMICS_COMPONENTS = ["CSC", "DAQ", "DCS", "DQM", "DT", "ECAL", "ES", "GEM", "HCAL", "PIXEL", "TCDS", "TRACKER", "TRG"]
SPECIAL_COMPONENTS = ["CTPPS", "CTPPS_TOT", "DAQ", "DCS", "DQM", "SCAL", "TCDS", "TRG"]


@dataclass(slots=True)
class FillRecord:
    fill_number: int
    start_time: dt.datetime
    end_time: dt.datetime
    start_stable_beam: dt.datetime | None
    end_stable_beam: dt.datetime | None
    duration: int
    bunches_colliding: int
    bunches_target: int
    injection_scheme: str
    init_lumi: float
    peak_lumi: float
    peak_pileup: float
    delivered_lumi: float
    recorded_lumi: float
    energy: float
    b_field: float
    fill_type_runtime: str
    fill_type_party1: str
    fill_type_party2: str
    era: str
    first_run_number: int | None = None
    last_run_number: int | None = None


@dataclass(slots=True)
class RunRecord:
    run_number: int
    fill_number: int | None
    start_time: dt.datetime
    end_time: dt.datetime
    duration: int
    run_class: str
    l1_hlt_mode: str
    hlt_key: str
    era: str
    b_field: float
    energy: float
    components: list[str]
    stable_beam: bool
    fill_type_runtime: str
    last_lumisection_number: int
    init_lumi: float
    end_lumi: float
    delivered_lumi: float
    recorded_lumi: float
    pileup_mean: float | None
    pv_mean: float | None
    apv_mode: str
    l1_rate: float
    hlt_physics_rate: float
    hlt_physics_counter: int
    sequence: str = "GLOBAL-RUN"
    # Simulation-only: what a shifter sees as "the conditions" of the run, and
    # the luminosity curve the lumisections are drawn from.
    condition: tuple = ()
    good: bool = True
    bunches: int = 0
    lumi_peak: float = 0.0
    lumi_offset_s: float = 0.0
    lumi_decay_s: float = 0.0
    pileup_per_lumi: float = 0.0


@dataclass(slots=True)
class ReconstructionRecord:
    run_number: int
    reconstruction: str
    dataset: str
    certified_at: dt.datetime


@dataclass(slots=True)
class LabelRecord:
    run_number: int
    reconstruction: str
    reference_run_number: int
    reference_reconstruction: str
    recorded_at: dt.datetime
    run_class: str
    # Why the shifter chose this reference: "kept", "condition" or "spontaneous" (a switch).
    reason: str


@dataclass(slots=True)
class DeclaredRecord:
    """A shift leaders' declaration: the reference of its class and reconstruction from
    `from_run` on, for its B field state (and APV mode, for cosmics)."""

    run_number: int
    reconstruction: str
    run_class: str
    period: str
    note: str
    b_field_on: bool
    apv_mode: str
    from_run: int
    until_run: int | None


@dataclass(slots=True)
class LumisectionBlock:
    """All lumisections of one run, column-wise."""

    run_number: int
    init_lumi: np.ndarray
    end_lumi: np.ndarray
    delivered_lumi: np.ndarray
    recorded_lumi: np.ndarray
    pileup: np.ndarray
    stable: bool
    beams: bool
    hv_ready: np.ndarray


@dataclass
class SimulatedData:
    fills: list[FillRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    reconstructions: list[ReconstructionRecord] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)
    declared: list[DeclaredRecord] = field(default_factory=list)
    lumisections: list[LumisectionBlock] = field(default_factory=list)


def _lognormal(rng: np.random.Generator, spec: dict, size: int | None = None):
    return rng.lognormal(math.log(spec["median"]), spec["sigma"], size)


def _choice(rng: np.random.Generator, weights: dict):
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _year_tag(year: int) -> str:
    # Certhelper's cosmics datasets were Cosmics22 and Cosmics23, then Cosmics2024.
    return f"{year % 100}" if year < 2024 else f"{year}"


def _bunch_bucket(bunches: int) -> str:
    if bunches < 600:
        return "low"
    return "mid" if bunches < 1800 else "full"


def dataset_for(*, run_class: str, reconstruction: str, year: int) -> str:
    stream = "Express" if reconstruction == EXPRESS else "PromptReco"
    tag = {
        COSMICS: f"Cosmics{_year_tag(year)}",
        COLLISIONS_PP: f"Collisions{year}",
        HEAVY_ION: f"Collisions{year}HI",
        COMMISSIONING: f"Commissioning{year}",
        SPECIAL: f"Collisions{year}Special",
    }[run_class]
    return f"/{stream}/{tag}/DQM"


class _YearBuilder:
    """Lays out the runs and fills of one year on its calendar."""

    def __init__(self, *, rng: np.random.Generator, year: int, density: float, state: dict) -> None:
        self.rng = rng
        self.year = year
        self.density = density
        self.state = state  # run and fill counters carried across years
        self.t0 = dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp()
        self.runs: list[RunRecord] = []
        self.fills: list[FillRecord] = []
        self.last_fill: FillRecord | None = None
        self.pp_era = ""  # the latest pp era, which cosmics runs keep through the heavy-ion period
        first = cal.YEAR_FIRST_RUN.get(year)
        if first is None:
            first = max(cal.YEAR_FIRST_RUN.values()) + (year - max(cal.YEAR_FIRST_RUN)) * cal.RUN_NUMBERS_PER_YEAR
        self.state["run"] = max(self.state.get("run", 0) + 1, first)
        self.state.setdefault("fill", 8000 + (year - 2022) * 1000)
        self.state["fill"] = max(self.state["fill"], 8000 + (year - 2022) * 1000)
        self.apv_peak_left = 0

    # -- helpers --------------------------------------------------------------
    def _day(self, day: float) -> float:
        return self.t0 + day * DAY

    def _next_run_number(self) -> int:
        number = self.state["run"]
        step = 1 + int(self.rng.geometric(1 / cal.RUN_NUMBER_STEP_MEAN)) - 1
        self.state["run"] = number + max(step, 1)
        return number

    def _apv_mode(self) -> str:
        # PEAK comes in short blocks of consecutive cosmics runs.
        if self.apv_peak_left > 0:
            self.apv_peak_left -= 1
            return "PEAK"
        if self.rng.random() < cal.APV_PEAK_FRACTION / cal.APV_PEAK_BLOCK_RUNS:
            self.apv_peak_left = max(1, int(self.rng.poisson(cal.APV_PEAK_BLOCK_RUNS))) - 1
            return "PEAK"
        return "DECO"

    def _add_run(self, *, start: float, duration: float, run_class: str, era: str, b_on: bool, **extra) -> RunRecord:
        y = self.year
        duration = max(30.0, float(duration))
        n_ls = max(1, math.ceil(duration / LS_SECONDS))
        b_field = round(cal.B_FIELD_ON_T + self.rng.normal(0, 0.0005), 4) if b_on else cal.B_FIELD_OFF_T
        minor = int((start - self.t0) // (14 * DAY))
        fill = extra.get("fill")
        if run_class == COSMICS:
            # A cosmics run sees no beam: no colliding bunches of a neighbouring fill and
            # no heavy-ion era (OMS: fill type COSMICS; the era stays the pp one).
            fill = None
            if era.startswith("HI"):
                era = self.pp_era or f"Run{y}A"
            mode, key = f"cosmics{y}", f"/cdaq/cosmic/commissioning{y}/v1.{minor}/HLT/V{1 + minor % 4}"
            components, l1, hlt = COSMICS_COMPONENTS, self.rng.normal(100_000, 8_000), self.rng.normal(190, 25)
        elif run_class == SPECIAL:
            special = SPECIAL_MODES[int(self.rng.integers(len(SPECIAL_MODES)))]
            mode, key = f"{special}{y}", f"/cdaq/special/{y}/{special}/v1.{minor}/HLT/V1"
            components = SPECIAL_COMPONENTS if self.rng.random() < 0.4 else COLLISION_COMPONENTS
            l1, hlt = self.rng.normal(30_000, 5_000), self.rng.normal(5_000, 800)
        elif run_class == COMMISSIONING:
            mode, key = f"commissioning{y}", f"/cdaq/special/commissioning{y}/v1.{minor}/HLT/V2"
            components, l1, hlt = COLLISION_COMPONENTS, self.rng.normal(40_000, 5_000), self.rng.normal(1_000, 150)
        elif run_class == HEAVY_ION:
            mode, key = f"collisionsHI{y}", f"/cdaq/physics/Run{y}HI/PbPb/v1.{minor}/HLT/V{1 + minor % 3}"
            components, l1, hlt = COLLISION_COMPONENTS, self.rng.normal(50_000, 4_000), self.rng.normal(6_000, 600)
        else:
            mode, key = f"collisions{y}", f"/cdaq/physics/Run{y}/2e34/v1.{minor}/HLT/V{1 + minor % 5}"
            components, l1, hlt = COLLISION_COMPONENTS, self.rng.normal(105_000, 6_000), self.rng.normal(1_800, 200)
        apv = self._apv_mode() if run_class == COSMICS else ""
        run = RunRecord(
            run_number=self._next_run_number(),
            fill_number=fill.fill_number if fill else None,
            start_time=dt.datetime.fromtimestamp(start, dt.UTC),
            end_time=dt.datetime.fromtimestamp(start + duration, dt.UTC),
            duration=int(duration),
            run_class=run_class,
            l1_hlt_mode=mode,
            hlt_key=key,
            era=era,
            b_field=b_field,
            energy=cal.BEAM_ENERGY_GEV if extra.get("beams") else 0.0,
            components=list(components),
            stable_beam=bool(extra.get("stable")),
            fill_type_runtime="COSMICS" if run_class == COSMICS else (fill.fill_type_runtime if fill else ""),
            last_lumisection_number=n_ls,
            init_lumi=0.0,
            end_lumi=0.0,
            delivered_lumi=0.0,
            recorded_lumi=0.0,
            pileup_mean=None,
            pv_mean=None,
            apv_mode=apv,
            l1_rate=round(float(l1), 1),
            hlt_physics_rate=round(float(hlt), 2),
            hlt_physics_counter=int(hlt * duration),
            good=bool(self.rng.random() < 0.95),
        )
        if run_class == COSMICS:
            run.condition = (COSMICS, y, b_on, apv)
        elif run_class in (COLLISIONS_PP, HEAVY_ION):
            run.condition = (run_class, era, b_on, _bunch_bucket(fill.bunches_colliding) if fill else "")
        else:
            run.condition = (run_class, era, b_on)
        self.runs.append(run)
        return run

    def _cosmics_block(self, *, start: float, end: float, era: str, b_on: bool) -> None:
        """Back-to-back cosmics runs filling a time window."""
        t = start
        while t < end - 600:
            duration = min(_lognormal(self.rng, cal.RUN_DURATION_S[COSMICS]) / self.density, end - t)
            self._add_run(start=t, duration=duration, run_class=COSMICS, era=era, b_on=b_on)
            t += duration + float(self.rng.exponential(900)) / self.density

    def _special_runs(self, *, start: float, count: int, era: str, beams: bool) -> float:
        t = start
        for _ in range(count):
            duration = _lognormal(self.rng, cal.RUN_DURATION_S[SPECIAL])
            self._add_run(
                start=t, duration=duration, run_class=SPECIAL, era=era, b_on=True, beams=beams, fill=self.last_fill
            )
            t += duration + 120
        return t

    def _fill(self, *, start: float, bunches: int, era: str, b_on: bool, heavy_ion: bool) -> float:
        """One fill: injection (special runs), stable beams split into collision runs. Returns its end."""
        rng = self.rng
        if not heavy_ion:
            self.pp_era = era
        self.state["fill"] += 1 + int(rng.poisson(2.5))  # test and aborted fills in between
        if heavy_ion:
            sb = _lognormal(rng, cal.HEAVY_ION_STABLE_BEAM_S)
            peak = _lognormal(rng, cal.HEAVY_ION_PEAK_LUMI_1E27) * 1e-7  # 10^27 -> 10^34
            pileup_k = cal.PILEUP_PER_LUMI_PER_BUNCH * cal.HEAVY_ION_PILEUP_FACTOR
        else:
            sb = _lognormal(rng, cal.FILL_STABLE_BEAM_S)
            scale = min(1.0, bunches / cal.FULL_SCHEME_BUNCHES)
            peak = _lognormal(rng, cal.PEAK_LUMI_1E34) * scale
            pileup_k = cal.PILEUP_PER_LUMI_PER_BUNCH
        sb = min(sb, 30 * HOUR)
        tau = _lognormal(rng, cal.LUMI_DECAY_H) * HOUR
        injection = 2 * HOUR
        delivered = 0.01 * peak * tau * (1 - math.exp(-sb / tau))  # pb^-1
        fill_type = "PB" if heavy_ion else "PROTONS"
        party = "PB82" if heavy_ion else "PROTON"
        fill = FillRecord(
            fill_number=self.state["fill"],
            start_time=dt.datetime.fromtimestamp(start, dt.UTC),
            end_time=dt.datetime.fromtimestamp(start + injection + sb + 1800, dt.UTC),
            start_stable_beam=dt.datetime.fromtimestamp(start + injection, dt.UTC),
            end_stable_beam=dt.datetime.fromtimestamp(start + injection + sb, dt.UTC),
            duration=int(sb),
            bunches_colliding=bunches,
            bunches_target=bunches,
            injection_scheme=f"25ns_{bunches}b_{bunches + 8}_{bunches // 2}_{bunches // 3}_{min(bunches, 144)}bpi",
            init_lumi=round(peak, 6 if not heavy_ion else 12),
            peak_lumi=round(peak, 6 if not heavy_ion else 12),
            peak_pileup=round(pileup_k * peak / bunches, 4),
            delivered_lumi=round(delivered, 4),
            recorded_lumi=round(delivered * cal.RECORDED_OVER_DELIVERED, 4),
            energy=cal.BEAM_ENERGY_GEV,
            b_field=cal.B_FIELD_ON_T if b_on else cal.B_FIELD_OFF_T,
            fill_type_runtime=fill_type,
            fill_type_party1=party,
            fill_type_party2=party,
            era=era,
        )
        self.fills.append(fill)
        self.last_fill = fill
        # Injection and ramp: a few special runs (circulating beams, tests).
        self._special_runs(start=start, count=int(rng.integers(0, 3)), era=era, beams=True)
        # Stable beams, split into runs (OMS: median 2 runs per fill).
        n_runs = max(1, round(_lognormal(rng, cal.RUNS_PER_FILL) * self.density))
        shares = rng.dirichlet(np.ones(n_runs) * 0.8)
        t = start + injection
        run_class = HEAVY_ION if heavy_ion else COLLISIONS_PP
        for share in shares:
            duration = max(60.0, share * sb)
            offset = t - (start + injection)
            run = self._add_run(
                start=t, duration=duration, run_class=run_class, era=era, b_on=b_on, fill=fill, beams=True, stable=True
            )
            a, b = math.exp(-offset / tau), math.exp(-(offset + duration) / tau)
            run.init_lumi = round(peak * a, 12)
            run.end_lumi = round(peak * b, 12)
            run.delivered_lumi = round(0.01 * peak * tau * (a - b), 6)
            run.recorded_lumi = round(run.delivered_lumi * cal.RECORDED_OVER_DELIVERED, 6)
            mean_lumi = peak * tau * (a - b) / duration
            run.pileup_mean = round(pileup_k * mean_lumi / bunches, 4)
            if not heavy_ion:
                run.pv_mean = round(run.pileup_mean * cal.PV_PER_PILEUP * float(rng.normal(1, 0.03)), 3)
            run.bunches = bunches
            run.lumi_peak, run.lumi_offset_s, run.lumi_decay_s, run.pileup_per_lumi = peak, offset, tau, pileup_k
            fill.first_run_number = fill.first_run_number or run.run_number
            fill.last_run_number = run.run_number
            t += duration + 30
        return start + injection + sb + 1800

    # -- the calendar ---------------------------------------------------------
    def build(self) -> None:
        rng, y = self.rng, self.year
        days = cal.CALENDAR_DAYS
        commissioning_era = f"Commissioning{y}"
        # 1. Cosmics commissioning: CRUZET (magnet off) then CRAFT (on).
        start, beam = self._day(days["cosmics_start"]), self._day(days["beam_start"])
        cruzet_end = start + (beam - start) * cal.COSMICS_B_OFF_FRACTION
        self._cosmics_block(start=start, end=cruzet_end, era=commissioning_era, b_on=False)
        self._cosmics_block(start=cruzet_end + 2 * HOUR, end=beam, era=commissioning_era, b_on=True)
        # 2. Beam commissioning: splashes, circulating beams, the first low-intensity
        # fills taken as commissioning runs, cosmics in between.
        t, physics = beam, self._day(days["physics_start"])
        while t < physics:
            t = self._special_runs(start=t, count=int(rng.integers(2, 6)), era=commissioning_era, beams=True)
            for _ in range(int(rng.integers(1, 4))):
                duration = _lognormal(rng, cal.RUN_DURATION_S[COMMISSIONING]) * 2
                self._add_run(
                    start=t, duration=duration, run_class=COMMISSIONING, era=commissioning_era, b_on=True, beams=True
                )
                t += duration + 300
            gap = float(rng.uniform(0.3, 1.0)) * DAY
            self._cosmics_block(start=t, end=t + gap, era=commissioning_era, b_on=True)
            t += gap
        # 3. pp physics, eras of about four weeks, technical stops, a B-off fill block.
        hi_days = cal.HEAVY_ION_DAYS.get(y, cal.HEAVY_ION_DAYS_DEFAULT)
        year_end = self._day(days["year_end"])
        hi_start = year_end - (hi_days + 4) * DAY
        era_index, era_end = 0, physics + cal.ERA_DAYS * DAY
        next_stop = physics + cal.TECHNICAL_STOP_EVERY_DAYS * DAY
        ramp = list(cal.RAMP_UP_SCHEMES)
        scheme, scheme_left = ramp[0], 0
        n_fills_expected = int((hi_start - physics) / (cal.FILL_STABLE_BEAM_S["median"] + cal.TURNAROUND_S["median"]))
        b_off_fill = int(rng.integers(len(ramp), max(len(ramp) + 1, n_fills_expected - 5)))
        fill_index = 0
        t = physics
        while t < hi_start:
            if t >= era_end:
                era_index += 1
                era_end += cal.ERA_DAYS * DAY
            era = f"Run{y}{chr(ord('A') + era_index)}"
            if t >= next_stop:
                self._cosmics_block(start=t, end=t + cal.TECHNICAL_STOP_DAYS * DAY, era=era, b_on=True)
                t += cal.TECHNICAL_STOP_DAYS * DAY
                next_stop += cal.TECHNICAL_STOP_EVERY_DAYS * DAY
                continue
            # Turnaround: cosmics while the LHC refills.
            gap = _lognormal(rng, cal.TURNAROUND_S)
            if rng.random() < 0.7:
                self._cosmics_block(start=t, end=t + gap - 2 * HOUR, era=era, b_on=True)
            t += gap
            if fill_index < len(ramp):
                scheme = ramp[fill_index]
            elif scheme_left <= 0:
                # After the ramp, a scheme holds for a block of fills.
                scheme, scheme_left = _choice(rng, cal.BUNCH_SCHEMES), int(rng.geometric(1 / 8))
            scheme_left -= 1
            b_on = not (b_off_fill <= fill_index < b_off_fill + 2)
            t = self._fill(start=t, bunches=int(scheme), era=era, b_on=b_on, heavy_ion=False)
            fill_index += 1
        # 4. Heavy ions.
        hi_era, hi_end = f"HIRun{y}A", hi_start + hi_days * DAY
        while t < hi_end:
            gap = _lognormal(rng, cal.TURNAROUND_S)
            if rng.random() < 0.5:
                self._cosmics_block(start=t, end=t + gap - 2 * HOUR, era=hi_era, b_on=True)
            t += gap
            bunches = int(_choice(rng, cal.HEAVY_ION_BUNCH_SCHEMES))
            t = self._fill(start=t, bunches=bunches, era=hi_era, b_on=True, heavy_ion=True)
        # 5. Year-end cosmics: magnet on, then ramped down for the last days.
        ramp_down = year_end - 1.5 * DAY
        self._cosmics_block(start=t, end=ramp_down, era=hi_era, b_on=True)
        self._cosmics_block(start=ramp_down + 2 * HOUR, end=year_end, era=hi_era, b_on=False)


def _certify(*, rng: np.random.Generator, runs: list[RunRecord]) -> list[ReconstructionRecord]:
    """Which runs are certified in which reconstruction, and when."""
    kinds = list(cal.LABELS_PER_RUN)
    p = np.array([cal.LABELS_PER_RUN[k] for k in kinds])
    out = []
    for run in runs:
        if run.duration < CERTIFY_MIN_SECONDS[run.run_class] or rng.random() >= CERTIFY_PROBABILITY[run.run_class]:
            continue
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        for reco in (EXPRESS, PROMPT):
            if reco not in kind:
                continue
            delay = _lognormal(rng, CERTIFICATION_DELAY_H[reco]) * HOUR
            out.append(
                ReconstructionRecord(
                    run_number=run.run_number,
                    reconstruction=reco,
                    dataset=dataset_for(run_class=run.run_class, reconstruction=reco, year=run.start_time.year),
                    certified_at=run.end_time + dt.timedelta(seconds=float(delay)),
                )
            )
    # Shifters take the runs of a reconstruction in run order: a run is never
    # certified before an older one.
    latest: dict[str, dt.datetime] = {}
    for record in out:
        previous = latest.get(record.reconstruction)
        if previous is not None and record.certified_at < previous:
            record.certified_at = previous + dt.timedelta(seconds=60)
        latest[record.reconstruction] = record.certified_at
    return out


class _Shifters:
    """Chooses references label by label, in certification order."""

    def __init__(self, *, rng: np.random.Generator, runs: list[RunRecord]) -> None:
        self.rng = rng
        self.runs = {r.run_number: r for r in runs}
        self.current: dict[tuple, int] = {}  # (reco, class) -> reference run
        self.current_condition: dict[tuple, tuple] = {}
        self.history: dict[tuple, list[int]] = {}  # (reco, class) -> references used, in order
        self.registry: dict[tuple, list[int]] = {}  # condition -> references chosen for it
        self.pending: dict[tuple, tuple] = {}  # group -> (from run, reference, condition) the other group chose
        # Candidates for a new reference: good certified runs per condition, in run order.
        self.pool: dict[tuple, list[int]] = {}
        self.pool_ready: dict[tuple, list[float]] = {}

    def offer(self, run: RunRecord, ready_at: float) -> None:
        if run.good:
            self.pool.setdefault(run.condition, []).append(run.run_number)
            self.pool_ready.setdefault(run.condition, []).append(ready_at)

    def _new_candidate(self, *, condition: tuple, before: int, at: float, exclude: set[int]) -> int | None:
        numbers = self.pool.get(condition, [])
        ready = self.pool_ready.get(condition, [])
        window: list[int] = []
        i = bisect.bisect_left(numbers, before) - 1
        while i >= 0 and len(window) < NEW_REFERENCE_WINDOW:
            if ready[i] <= at and numbers[i] not in exclude:
                window.append(numbers[i])
            i -= 1
        if not window:
            return None
        # A good long run: one of the three longest recent ones.
        longest = sorted(window, key=lambda n: self.runs[n].duration, reverse=True)[:3]
        return longest[int(self.rng.integers(len(longest)))]

    def choose(self, *, run: RunRecord, reco: str, at: float, used: set[int]) -> tuple[int | None, str]:
        group = (reco, run.run_class)
        condition = run.condition
        current = self.current.get(group)
        changed = self.current_condition.get(group) != condition
        spontaneous = not changed and self.rng.random() < SPONTANEOUS_SWITCH_PROBABILITY
        pick = None
        followed = False
        # The other reconstruction switched at an earlier run: follow it (express
        # usually switches first, prompt follows when it reaches that run).
        pending = self.pending.pop(group, None)
        if pending is not None:
            from_run, reference, pending_condition = pending
            if from_run > run.run_number:
                self.pending[group] = pending
            elif pending_condition == condition and reference < run.run_number and reference != current:
                if self.rng.random() < cal.EXPRESS_PROMPT_SAME_REFERENCE:
                    pick, followed = reference, True
        previous = self.current_condition.get(group)
        era_only = (
            changed and previous is not None and len(previous) == len(condition) and previous[2:] == condition[2:]
        )
        if pick is not None:
            pass
        elif era_only and current is not None and self.rng.random() < ERA_KEEP_PROBABILITY:
            # A new era with the same beams and field: the shifter often keeps the reference.
            self.current_condition[group] = condition
            self.registry.setdefault(condition, []).append(current)
        elif changed:
            known = [r for r in self.registry.get(condition, []) if r < run.run_number]
            # Another group (usually express, certified first) already chose one: follow it,
            # as the real express/prompt pairs agree 81 % of the time.
            if known and self.rng.random() < cal.EXPRESS_PROMPT_SAME_REFERENCE:
                pick = known[-1]
            else:
                pick = self._new_candidate(condition=condition, before=run.run_number, at=at, exclude=set())
                if pick is None and known:
                    pick = known[-1]
        elif spontaneous:
            recent = [r for r in self.registry.get(condition, []) if r < run.run_number and r != current]
            if recent and self.rng.random() >= SPONTANEOUS_NEW_PROBABILITY:
                pick = recent[-1 - int(self.rng.integers(min(3, len(recent))))]
            else:
                pick = self._new_candidate(condition=condition, before=run.run_number, at=at, exclude=used)
        if pick is not None and pick != current:
            self.current[group] = pick
            self.current_condition[group] = condition
            self.registry.setdefault(condition, []).append(pick)
            self.history.setdefault(group, []).append(pick)
            reason = "followed" if followed else "condition" if changed else "spontaneous"
            other = (PROMPT if reco == EXPRESS else EXPRESS, run.run_class)
            self.pending[other] = (run.run_number, pick, condition)
        else:
            reason = "kept"
        if pick is not None and (changed or followed):
            self.current_condition[group] = condition
        reference = self.current.get(group)
        if reference is not None and reference >= run.run_number:
            # A late certification of an older run: the previous reference still fits.
            older = [r for r in self.history.get(group, []) if r < run.run_number]
            reference = older[-1] if older else None
        return reference, reason


def _label(*, rng: np.random.Generator, runs: list[RunRecord], recos: list[ReconstructionRecord]) -> list[LabelRecord]:
    by_number = {r.run_number: r for r in runs}
    shifters = _Shifters(rng=rng, runs=runs)
    # A run becomes a candidate reference once its express certification is done.
    first_cert: dict[int, float] = {}
    for reco in recos:
        ts = reco.certified_at.timestamp()
        first_cert[reco.run_number] = min(first_cert.get(reco.run_number, ts), ts)
    candidates = sorted(first_cert.items(), key=lambda kv: kv[0])
    order = sorted(recos, key=lambda r: (r.certified_at, r.run_number, r.reconstruction))
    # Candidates are offered in run order, each with the time it became available.
    for number, ready in candidates:
        shifters.offer(by_number[number], ready)
    recos_of: dict[int, set[str]] = {}
    for reco in recos:
        recos_of.setdefault(reco.run_number, set()).add(reco.reconstruction)
    used: set[int] = set()
    labels = []
    for reco in order:
        run = by_number[reco.run_number]
        at = reco.certified_at.timestamp()
        reference, reason = shifters.choose(run=run, reco=reco.reconstruction, at=at, used=used)
        if reference is None:
            continue  # the very first runs of a class: nothing to compare with yet
        used.add(reference)
        labels.append(
            LabelRecord(
                run_number=run.run_number,
                reconstruction=reco.reconstruction,
                reference_run_number=reference,
                # Same reconstruction as the run when the reference has it (97 % of real pairs).
                reference_reconstruction=(
                    reco.reconstruction if reco.reconstruction in recos_of[reference] else min(recos_of[reference])
                ),
                recorded_at=reco.certified_at,
                run_class=run.run_class,
                reason=reason,
            )
        )
    return labels


def _shift_reached(labels: list[LabelRecord], *, runs: list[RunRecord]) -> list[LabelRecord]:
    """The labels the shifters had recorded when the simulation's clock stopped, at the
    end of its last run. Shifts certify in run order, express hours and prompt about
    two days after a run (CERTIFICATION_DELAY_H), so the runs not reached yet, whose
    datasets exist, are the work queue the demo opens on: a shift's few days' worth."""
    if not runs:
        return labels
    now = max(run.end_time for run in runs)
    return [label for label in labels if label.recorded_at <= now]


def _declare(*, runs: list[RunRecord], labels: list[LabelRecord]) -> list[DeclaredRecord]:
    """The shift leaders' declarations: per class and period, the most used prompt (else
    express) reference, from the first run that used it to the last (open while in use)."""
    by_number = {r.run_number: r for r in runs}
    usage: dict[tuple, dict[tuple, list[tuple[int, dt.datetime]]]] = {}
    for label in labels:
        ref = by_number[label.reference_run_number]
        period = f"Cosmics{ref.start_time.year}" if ref.run_class == COSMICS else ref.era
        key = (label.run_class, period)
        usage.setdefault(key, {}).setdefault((label.reference_run_number, label.reference_reconstruction), []).append(
            (label.run_number, label.recorded_at)
        )
    out = []
    last_time = max((label.recorded_at for label in labels), default=None)
    for (run_class, period), refs in sorted(usage.items()):
        (number, reco), uses = max(refs.items(), key=lambda kv: (len(kv[1]), kv[0][1] == PROMPT, kv[0][0]))
        ref = by_number[number]
        note = f"B = {ref.b_field:.1f} T" + (f", APV {ref.apv_mode}" if ref.apv_mode else "")
        if ref.bunches:
            note += f", {ref.bunches} colliding bunches"
        until = max(when for _, when in uses)
        in_use = until == last_time or until > last_time - dt.timedelta(days=3)
        out.append(
            DeclaredRecord(
                run_number=number,
                reconstruction=reco,
                run_class=run_class,
                period=period,
                note=note,
                b_field_on=ref.b_field > 1.0,
                apv_mode=ref.apv_mode if run_class == COSMICS else "",
                from_run=min(run for run, _ in uses),
                until_run=None if in_use else max(run for run, _ in uses),
            )
        )
    return out


def lumisections_build(*, rng: np.random.Generator, run: RunRecord) -> LumisectionBlock:
    """Per-LS rows of one run: luminosity decaying along the fill, cumulative
    delivered/recorded (pb^-1), pileup, and tracker HV off during the first LS."""
    n = run.last_lumisection_number
    hv_ramp = 1 + int(rng.integers(0, cal.HV_RAMP_LS_MAX + 1))
    hv_ready = np.arange(1, n + 1) > min(hv_ramp, n - 1 if n > 1 else 0)
    if run.b_field < 1 and run.run_class == COSMICS and rng.random() < 0.02:
        hv_ready[:] = False  # now and then a cosmics run with the strips off
    if run.lumi_peak > 0:
        t = run.lumi_offset_s + np.arange(n + 1) * LS_SECONDS
        lumi = run.lumi_peak * np.exp(-t / run.lumi_decay_s)
        init, end = lumi[:-1], lumi[1:]
        per_ls = 0.01 * (init + end) / 2 * LS_SECONDS  # 10^34 cm^-2 s^-1 x s -> pb^-1
        efficiency = np.clip(rng.normal(cal.RECORDED_OVER_DELIVERED, 0.02, n), 0, 1)
        delivered = np.cumsum(per_ls)
        recorded = np.cumsum(per_ls * efficiency)
        pileup = run.pileup_per_lumi * (init + end) / 2 / max(run.bunches, 1)
        stable, beams = True, True
    else:
        # No collisions: no luminosity and no stable beams, though beams may circulate.
        init = end = delivered = recorded = pileup = np.zeros(n)
        stable, beams = False, run.energy > 0
    return LumisectionBlock(
        run_number=run.run_number,
        init_lumi=init,
        end_lumi=end,
        delivered_lumi=delivered,
        recorded_lumi=recorded,
        pileup=pileup,
        stable=stable,
        beams=beams,
        hv_ready=hv_ready,
    )


def _calendar(*, seed: int, years: list[int], density: float) -> tuple[np.random.Generator, SimulatedData]:
    rng = np.random.default_rng(seed)
    data = SimulatedData()
    state: dict = {}
    for year in years:
        builder = _YearBuilder(rng=rng, year=year, density=max(1.0, density), state=state)
        builder.build()
        data.fills.extend(builder.fills)
        data.runs.extend(builder.runs)
    return rng, data


def simulation_generate(
    *,
    seed: int,
    years: list[int],
    runs: int | None = None,
    lumisections_for_last: int | None = 300,
) -> SimulatedData:
    """Simulated records for `years`.

    `runs`: approximate number of runs wanted (None: the natural density, about
    SIMULATED_RUNS_PER_YEAR a year). `lumisections_for_last`: per-LS
    rows for the newest K runs; 0 for none, None for every run.
    """
    years = sorted(set(years))
    density = 1.0
    if runs is not None:
        density = max(0.02, runs / (SIMULATED_RUNS_PER_YEAR * len(years)))
    rng, data = _calendar(seed=seed, years=years, density=density)
    if runs is not None and density > 1.0 and abs(len(data.runs) - runs) > 0.1 * runs:
        # More runs than the real density: shorter cosmics runs and more runs per fill.
        # The response is not linear, so correct once with the measured count.
        rng, data = _calendar(seed=seed, years=years, density=density * runs / len(data.runs))
    if density < 1.0:
        # Fewer runs than real: keep a random subset (gaps in run numbers are normal).
        keep = rng.random(len(data.runs)) < density
        data.runs = [r for r, k in zip(data.runs, keep, strict=True) if k]
        kept_fills = {r.fill_number for r in data.runs}
        data.fills = [f for f in data.fills if f.fill_number in kept_fills]
    data.reconstructions = _certify(rng=rng, runs=data.runs)
    data.labels = _shift_reached(_label(rng=rng, runs=data.runs, recos=data.reconstructions), runs=data.runs)
    data.declared = _declare(runs=data.runs, labels=data.labels)
    newest = data.runs if lumisections_for_last is None else data.runs[len(data.runs) - lumisections_for_last :]
    if lumisections_for_last == 0:
        newest = []
    data.lumisections = [lumisections_build(rng=rng, run=run) for run in newest]
    return data
