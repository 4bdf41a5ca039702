"""Reads for the operations endpoints: readiness checks and the business figures
/metrics exports. Every figure is read from the database, never from a counter in
this process, so any web worker answers a scrape with the same numbers."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Max
from django.utils import timezone

from ingestion.models import Run, SyncState
from jobs.models import Job, JobKind, JobStatus
from recommender.exceptions import ModelArtifactError
from recommender.models import Decision, Feedback, ModelVersion, ModelVersionStatus, Recommendation
from recommender.selectors import AcceptanceRate, first_choice_acceptance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("readiness: database unreachable: %s", error)
        return Check("database", False, "unreachable")
    return Check("database", True, connection.vendor)


def _migrations_check() -> Check:
    # A pod started before the migrate job finished must not take traffic: the
    # code would query columns that do not exist yet.
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        return Check("migrations", False, f"{len(unapplied)} not applied")
    return Check("migrations", True, "all applied")


def _broker_check() -> Check:
    if not settings.REDIS_URL:
        # The filesystem transport of a one-machine demo has no server to reach.
        return Check("broker", True, "filesystem transport")
    import redis

    timeout = settings.READINESS_TIMEOUT_S
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as error:
        logger.warning("readiness: broker unreachable: %s", error)
        return Check("broker", False, "unreachable")
    finally:
        client.close()
    return Check("broker", True, "redis")


# (pk, sha256) of the active version this process last loaded successfully: a probe
# every few seconds must not unpickle the model each time.
_loaded_model_key: tuple[int, str] | None = None


def _model_check() -> Check:
    global _loaded_model_key
    from recommender.artifacts import artifact_load

    version = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
    if version is None:
        # Ready: without a model the site serves the persistence ranking (the
        # references in use), which is what it must do before the first training.
        return Check("model", True, "no active model: persistence ranking serves")
    key = (version.pk, version.sha256)
    if key != _loaded_model_key:
        try:
            artifact_load(version)
        except ModelArtifactError as error:
            logger.error("readiness: active model #%s cannot be loaded: %s", version.pk, error)
            return Check("model", False, f"active model #{version.pk} cannot be loaded")
        _loaded_model_key = key
    return Check("model", True, f"model #{version.pk}")


def readiness_checks() -> list[Check]:
    """Database reachable and migrated, broker reachable (when one is configured),
    active model loadable. The checks after the database need it, so they are
    skipped when it is down."""
    database = _database_check()
    if not database.ok:
        skipped = [Check(name, False, "database unreachable") for name in ("migrations", "model")]
        return [database, *skipped, _broker_check()]
    checks = [database]
    try:
        checks += [_migrations_check(), _model_check()]
    except DatabaseError as error:
        logger.warning("readiness: database error: %s", error)
        checks.append(Check("queries", False, "database error"))
    checks.append(_broker_check())
    return checks


@dataclass(frozen=True)
class BusinessFigures:
    rankings_stored: int
    decisions: dict[str, int]
    current_decisions: dict[str, int]
    acceptance_all: AcceptanceRate
    acceptance_active: AcceptanceRate | None
    newest_run: int | None
    oms_sync_last_success: dt.datetime | None
    active_model_version: int | None
    job_failures: dict[str, int]
    now: dt.datetime


def _counts(rows, key: str, names: list[str]) -> dict[str, int]:
    found = {row[key]: row["n"] for row in rows}
    return {name: found.get(name, 0) for name in names}


def business_figures() -> BusinessFigures:
    """RefRun's own figures for /metrics, about a dozen indexed or small queries."""
    decisions = Decision.values
    active = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
    success = [
        Job.objects.filter(kind=JobKind.OMS_SYNC, status=JobStatus.SUCCEEDED).aggregate(t=Max("finished_at"))["t"],
        SyncState.objects.filter(key="oms_runs").values_list("last_success_at", flat=True).first(),
    ]
    success = [t for t in success if t is not None]
    return BusinessFigures(
        # One stored ranking per run reconstruction and model version: what the
        # model showed shifters (repeat views of a page are not stored twice).
        rankings_stored=Recommendation.objects.filter(rank=1).count(),
        decisions=_counts(Feedback.objects.values("decision").annotate(n=Count("id")), "decision", decisions),
        current_decisions=_counts(
            Feedback.objects.filter(is_current=True).values("decision").annotate(n=Count("id")), "decision", decisions
        ),
        acceptance_all=first_choice_acceptance(),
        acceptance_active=first_choice_acceptance(model_version=active) if active else None,
        newest_run=Run.objects.aggregate(n=Max("run_number"))["n"],
        oms_sync_last_success=max(success) if success else None,
        active_model_version=active.pk if active else None,
        job_failures=_counts(
            Job.objects.filter(status=JobStatus.FAILED).values("kind").annotate(n=Count("id")),
            "kind",
            JobKind.values,
        ),
        now=timezone.now(),
    )
