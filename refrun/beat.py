"""The beat table: every periodic job, defined once, here.

Each entry can be overridden from the environment: REFRUN_BEAT_<KEY> (e.g.
REFRUN_BEAT_SYNC_OMS="*/15 * * * *") is a five-field cron line, or "disable" to
turn the entry off. A bad value stops the process at start-up (settings read this
table), rather than silently keeping the default.

How the code, the environment and the admin interact: beat runs
django-celery-beat's DatabaseScheduler, so what runs is the PeriodicTask rows,
which shift leaders may edit in the admin. After every `migrate`, the jobs app
(jobs.beat.beat_rows_sync) makes the rows agree with this table:
- a row missing (by name) is created from the table;
- a row's task and expiry always come from the table (they are code);
- an entry overridden in the environment gets that schedule (or is disabled) on
  every migrate: the deployment's word wins;
- otherwise the row's schedule and enabled flag are left as the admin set them.

`expires` is just below each period, so runs never pile up behind a stuck worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

HOUR = 3600
DISABLE = "disable"


@dataclass(frozen=True)
class BeatEntry:
    key: str  # REFRUN_BEAT_<KEY> overrides it
    name: str  # the PeriodicTask row's name (what the admin shows)
    task: str
    cron: str  # minute hour day-of-month month day-of-week, UTC
    expires_s: int
    description: str
    enabled: bool = True

    @property
    def env_name(self) -> str:
        return f"REFRUN_BEAT_{self.key}"

    def crontab_fields(self) -> dict[str, str]:
        minute, hour, day_of_month, month_of_year, day_of_week = self.cron.split()
        return {
            "minute": minute,
            "hour": hour,
            "day_of_month": day_of_month,
            "month_of_year": month_of_year,
            "day_of_week": day_of_week,
        }


BEAT_TABLE: tuple[BeatEntry, ...] = (
    BeatEntry(
        key="SYNC_OMS",
        name="OMS sync (every 15 minutes)",
        task="ingestion.tasks.runs_sync",
        # crontab.guru: "*/15 * * * *" = at every 15th minute
        cron="*/15 * * * *",
        expires_s=14 * 60,
        description="Fetch the runs OMS has after the newest run fully ingested, plus a look-back window.",
    ),
    BeatEntry(
        key="SYNC_CONDITIONS",
        name="Conditions sync: APV mode, primary vertices (hourly)",
        task="ingestion.tasks.conditions_sync",
        # crontab.guru: "41 * * * *" = at minute 41 of every hour, between the OMS syncs
        cron="41 * * * *",
        expires_s=50 * 60,
        description="Ask the APV-mode service and DIALS about the newest CONDITIONS_LOOKBACK_RUNS run numbers "
        "(each OMS sync also queues this for the runs it synced). A mode once known is kept; PV means "
        "follow the preferred dataset as prompt reconstruction arrives.",
    ),
    BeatEntry(
        key="REFRESH_RECOMMENDATIONS",
        name="Refresh stored recommendations (every 15 minutes, after the OMS sync)",
        task="recommender.tasks.recommendations_refresh",
        # crontab.guru: "5-59/15 * * * *" = every 15th minute from 5 through 59, 5 minutes after each sync
        cron="5-59/15 * * * *",
        expires_s=14 * 60,
        description="Store the first choices for the newest runs awaiting a decision, so the runs page shows them.",
    ),
    BeatEntry(
        key="SYNC_CERTHELPER",
        name="Certhelper pairs (daily)",
        task="recommender.tasks.certhelper_sync",
        # crontab.guru: "17 6 * * *" = at 06:17 UTC; off the hour so it misses other cron jobs
        cron="17 6 * * *",
        expires_s=23 * HOUR,
        description="Import Certhelper's (run, reference) pairs. The client refuses to call more than once a day "
        "(CERTHELPER_MIN_INTERVAL_S), and never more than once an hour.",
    ),
    BeatEntry(
        key="RETRAIN",
        name="Retrain the recommender (nightly)",
        task="recommender.tasks.model_version_train",
        # crontab.guru: "30 3 * * *" = at 03:30 UTC, after the night's syncs
        cron="30 3 * * *",
        expires_s=20 * HOUR,
        description="Refit the model when the labels changed; keep the new version only if it is not worse.",
    ),
    BeatEntry(
        key="JOBS_SWEEP",
        name="Fail jobs whose worker was killed (every 10 minutes)",
        task="jobs.tasks.jobs_sweep",
        # crontab.guru: "3-59/10 * * * *" = every 10th minute from 3, off the syncs' quarter hours
        cron="3-59/10 * * * *",
        expires_s=9 * 60,
        description="Running jobs not updated for JOB_STALE_S lost their worker: mark them failed, "
        "so the jobs page stops waiting and the next trigger starts.",
    ),
    BeatEntry(
        key="LOGIN_RECORDS_PRUNE",
        name="Prune login-failure counters (hourly)",
        task="accounts.tasks.login_records_prune",
        # crontab.guru: "37 * * * *" = minute 37 of every hour, away from the syncs and the sweep
        cron="37 * * * *",
        expires_s=50 * 60,
        description="Login-failure counters whose window is over and addresses unused for "
        "LOGIN_KNOWN_ADDRESS_DAYS are deleted.",
    ),
)

# One cron field: *, a number or range, optionally /step, comma-separated. Names
# (MON, JAN) are left out on purpose: numbers read the same in every crontab tool.
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


class BeatConfigError(ValueError):
    """A REFRUN_BEAT_* value that is neither a cron line nor "disable"."""


def parse_cron(value: str, *, name: str) -> str:
    """A five-field cron line, normalised to single spaces; BeatConfigError otherwise."""
    fields = value.split()
    if len(fields) != 5:
        raise BeatConfigError(f'{name}={value!r}: expected five cron fields ("*/15 * * * *") or "{DISABLE}"')
    for field, (low, high) in zip(fields, _RANGES, strict=True):
        if not _FIELD.match(field):
            raise BeatConfigError(f"{name}={value!r}: {field!r} is not a cron field")
        for number in re.findall(r"(?<![/\d])\d+", field):
            if not low <= int(number) <= high:
                raise BeatConfigError(f"{name}={value!r}: {number} is outside {low}-{high} in {field!r}")
    return " ".join(fields)


@dataclass(frozen=True)
class ScheduledEntry:
    entry: BeatEntry
    overridden: bool  # the environment set this entry's schedule or disabled it


def beat_table(environ: Mapping[str, str]) -> tuple[ScheduledEntry, ...]:
    """The table with the environment's overrides applied; raises BeatConfigError on a bad value."""
    known = {entry.env_name for entry in BEAT_TABLE}
    unknown = sorted(name for name in environ if name.startswith("REFRUN_BEAT_") and name not in known)
    if unknown:
        raise BeatConfigError(f"unknown beat entries {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    table = []
    for entry in BEAT_TABLE:
        value = environ.get(entry.env_name)
        if value is None or not value.strip():
            table.append(ScheduledEntry(entry, overridden=False))
        elif value.strip().lower() == DISABLE:
            table.append(ScheduledEntry(replace(entry, enabled=False), overridden=True))
        else:
            table.append(ScheduledEntry(replace(entry, cron=parse_cron(value, name=entry.env_name)), overridden=True))
    return tuple(table)
