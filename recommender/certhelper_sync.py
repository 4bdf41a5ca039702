"""The Certhelper sync: Certhelper's (run, reference) pairs become labels.

Certhelper pairs are what shifters decided, so the sync belongs to the recommender;
ingestion lends the client (ingestion.clients) and the call spacing
(ingestion.services.certhelper_calls), and the job is recorded by `jobs`.
"""

import logging
from collections.abc import Callable
from typing import Any

from ingestion.clients import CerthelperClient, CerthelperError
from ingestion.parsers.certhelper import certhelper_pair_from_dict
from ingestion.parsers.common import RowInvalid
from ingestion.services import CerthelperTooSoon, certhelper_call_claim, certhelper_call_succeeded
from ingestion.services.certhelper_calls import SOURCE_CERTHELPER_API
from jobs.models import Job, JobKind, JobStatus
from jobs.services import Counts, job_fails_on_error, job_finish, job_progress, job_start

from .services import reference_pairs_import

logger = logging.getLogger(__name__)


def certhelper_sync(
    *,
    job_id: int | None = None,
    client: CerthelperClient | None = None,
    force: bool = False,
    pairs_import: Callable[..., Any] = reference_pairs_import,
) -> Job:
    """Fetch Certhelper's pairs under the call-spacing claim and import them as labels
    (with `pairs_import`, the label writer; a test may hand in another)."""
    job = job_start(kind=JobKind.CERTHELPER_SYNC, parameters={"force": force}, job_id=job_id)
    with job_fails_on_error(job.pk):
        try:
            certhelper_call_claim(force=force)
            client = client or CerthelperClient.from_settings()
            items = client.reference_pairs()
        except CerthelperTooSoon as exc:
            job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED, message=f"skipped: {exc}")
            job.refresh_from_db()
            logger.info("Certhelper sync skipped: %s", exc)
            return job
        except CerthelperError as exc:
            job_finish(job_id=job.pk, status=JobStatus.FAILED, message=str(exc))
            logger.error("Certhelper sync failed: %s", exc)
            raise
        pairs, errors = [], []
        for line, item in enumerate(items, start=1):
            try:
                if not isinstance(item, dict):
                    raise RowInvalid("expected an object")
                pairs.append(certhelper_pair_from_dict(item, line=line))
            except RowInvalid as exc:
                errors.append({"file": SOURCE_CERTHELPER_API, "line": line, "reason": str(exc)})
        job_progress(job_id=job.pk, total=len(items), errors=errors, counts=Counts(skipped=len(errors)))
        try:
            result = pairs_import(rows=pairs, progress=lambda n: job_progress(job_id=job.pk, done=n))
        except Exception as exc:
            job_finish(job_id=job.pk, status=JobStatus.FAILED, message=f"import failed: {type(exc).__name__}: {exc}")
            raise
        counts = Counts(created=result.created, updated=result.updated, unchanged=result.unchanged)
        job_progress(job_id=job.pk, counts=counts, done=len(errors))
        certhelper_call_succeeded()
        job_finish(
            job_id=job.pk,
            status=JobStatus.SUCCEEDED,
            message=f"{len(items)} pairs fetched: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged, {len(errors)} rejected",
        )
    job.refresh_from_db()
    return job
