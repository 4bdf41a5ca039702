"""Chunk claims: a range of run numbers one worker syncs at a time.

A worker claims a chunk with a conditional update and goes on only if exactly one
row changed; it extends the claim inside every transaction that writes, so a
worker that lost its claim rolls its write back instead of racing the new holder.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from ..models import ChunkStatus, SyncChunk


class ChunkBusy(Exception):
    """Another worker holds the chunk's claim; try again once it may have expired."""


class ClaimLost(Exception):
    """Our claim expired and another worker took the chunk; stop writing."""


class SyncRefused(Exception):
    """A sync that cannot start as asked (bad range, unknown job)."""


def chunk_runs_setting() -> int:
    return settings.OMS_SYNC_CHUNK_RUNS


def claim_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=settings.OMS_SYNC_CLAIM_TTL_S)


def chunk_ranges(run_from: int, run_to: int, size: int | None = None) -> list[tuple[int, int]]:
    """[run_from, run_to] cut at multiples of `size`, so syncs of overlapping ranges
    meet on the same chunk rows (the edges are clipped to the range)."""
    size = size or chunk_runs_setting()
    if run_from > run_to:
        raise SyncRefused(f"empty run range {run_from}-{run_to}")
    ranges = []
    start = run_from
    while start <= run_to:
        end = min(run_to, (start // size + 1) * size - 1)
        ranges.append((start, end))
        start = end + 1
    return ranges


def chunk_claim(*, kind: str, first_run: int, last_run: int, job_id: int | None) -> tuple[SyncChunk, str] | None:
    """Claim a chunk for this job; returns (chunk, claim token), or None when the job
    already finished it. Raises ChunkBusy while another worker's claim is live."""
    now = timezone.now()
    try:
        chunk, _ = SyncChunk.objects.get_or_create(kind=kind, first_run=first_run, last_run=last_run)
    except IntegrityError:  # created by a concurrent claimant between our get and create
        chunk = SyncChunk.objects.get(kind=kind, first_run=first_run, last_run=last_run)
    token = uuid.uuid4().hex
    claimable = (
        Q(status__in=[ChunkStatus.PENDING, ChunkStatus.FAILED])
        | Q(status=ChunkStatus.RUNNING, claimed_until__lt=now)
        | Q(status=ChunkStatus.RUNNING, claimed_until__isnull=True)
    )
    if job_id is None:
        claimable |= Q(status=ChunkStatus.DONE)
    else:
        # Done by an earlier job: a new sync may redo it. Done by this job: nothing to do.
        claimable |= Q(status=ChunkStatus.DONE) & (~Q(job_id=job_id) | Q(job_id__isnull=True))
    claimed = (
        SyncChunk.objects.filter(pk=chunk.pk)
        .filter(claimable)
        .update(
            status=ChunkStatus.RUNNING,
            claimed_by=token,
            claimed_until=now + claim_ttl(),
            job_id=job_id,
            attempts=F("attempts") + 1,
            runs_done=0,
            last_error="",
            updated_at=now,
        )
    )
    if claimed == 1:
        chunk.refresh_from_db()
        return chunk, token
    chunk.refresh_from_db()
    if chunk.status == ChunkStatus.DONE and chunk.job_id == job_id:
        return None
    raise ChunkBusy(f"chunk {kind} {first_run}-{last_run} is claimed until {chunk.claimed_until:%H:%M:%S}")


def claim_extend(chunk: SyncChunk, token: str, *, runs_done: int = 0) -> None:
    """Extend our claim; call inside the transaction that writes, so a worker that
    lost its claim rolls its write back instead of racing the new holder."""
    now = timezone.now()
    extended = SyncChunk.objects.filter(pk=chunk.pk, claimed_by=token, status=ChunkStatus.RUNNING).update(
        claimed_until=now + claim_ttl(), runs_done=F("runs_done") + runs_done, updated_at=now
    )
    if extended != 1:
        raise ClaimLost(f"lost the claim on chunk {chunk.first_run}-{chunk.last_run}")


def claim_release(chunk: SyncChunk, token: str, *, status: str, error: str = "") -> bool:
    return (
        SyncChunk.objects.filter(pk=chunk.pk, claimed_by=token, status=ChunkStatus.RUNNING).update(
            status=status, claimed_until=None, last_error=error[:2000], updated_at=timezone.now()
        )
        == 1
    )
