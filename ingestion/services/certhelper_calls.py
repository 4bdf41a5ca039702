"""Call spacing for Certhelper: its owners ask for rare calls.

One call at most every CERTHELPER_MIN_INTERVAL_S (a day by default), and never
two within an hour whatever the schedule or `force` says. The spacing is a claim
on SyncState "certhelper", so it holds across processes. Ingestion owns it, with
the client, because it is about calling the outside world; what the pairs mean
(labels) is the recommender's business (recommender.certhelper_sync).
"""

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import SyncState

CERTHELPER = "certhelper"
SOURCE_CERTHELPER_API = "certhelper_api"

# Never two Certhelper calls within this, whatever the settings or --force say.
CERTHELPER_HARD_MIN_INTERVAL_S = 3600
# Beat fires "daily" a few seconds early or late; don't refuse a daily run for that.
CERTHELPER_SCHEDULE_SLACK_S = 600


class CerthelperTooSoon(Exception):
    """Certhelper was called too recently; this sync would break its owners' request."""


def certhelper_min_interval() -> dt.timedelta:
    """Between two imported calls (CERTHELPER_MIN_INTERVAL_S, a day by default,
    less a little slack for beat's timing), never under the hard floor."""
    configured = settings.CERTHELPER_MIN_INTERVAL_S
    seconds = max(configured - CERTHELPER_SCHEDULE_SLACK_S, CERTHELPER_HARD_MIN_INTERVAL_S)
    return dt.timedelta(seconds=seconds)


def certhelper_call_claim(*, force: bool = False) -> None:
    """Reserve the right to call Certhelper now, or raise CerthelperTooSoon.

    Two rules, checked and recorded in one conditional update so they hold across
    processes: no call within an hour of the last *attempt* (a failed call loaded
    Certhelper too), and, unless forced, none within the configured interval of
    the last *successful* import.
    """
    now = timezone.now()
    SyncState.objects.get_or_create(key=CERTHELPER)
    hard_floor = dt.timedelta(seconds=CERTHELPER_HARD_MIN_INTERVAL_S)
    allowed = Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=now - hard_floor)
    if not force:
        allowed &= Q(last_success_at__isnull=True) | Q(last_success_at__lte=now - certhelper_min_interval())
    claimed = SyncState.objects.filter(key=CERTHELPER).filter(allowed).update(last_attempt_at=now, updated_at=now)
    if claimed != 1:
        state = SyncState.objects.get(key=CERTHELPER)
        candidates = []
        if state.last_attempt_at:
            candidates.append(state.last_attempt_at + hard_floor)
        if state.last_success_at and not force:
            candidates.append(state.last_success_at + certhelper_min_interval())
        next_at = max(candidates) if candidates else now
        raise CerthelperTooSoon(
            f"Certhelper was last called at {state.last_attempt_at:%Y-%m-%d %H:%M} UTC; its owners ask for rare "
            f"calls (at most one an hour, one a day on schedule), so not before {next_at:%Y-%m-%d %H:%M} UTC"
        )


def certhelper_call_succeeded() -> None:
    """The pairs of the claimed call were imported: the daily interval starts now."""
    SyncState.objects.filter(key=CERTHELPER).update(last_success_at=timezone.now(), updated_at=timezone.now())
