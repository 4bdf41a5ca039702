"""The recommender's data frames, read from the database: the run features from the OMS
mirror, the labels, and the label table's fingerprint the serving cache checks."""

from collections.abc import Iterable

import pandas as pd
from django.db.models import BigIntegerField, Case, Count, ExpressionWrapper, F, Sum, Value, When

from ingestion import selectors as ingestion_selectors
from ingestion.models import LUMISECTION_SECONDS

from ..ml.dataset import labels_from_rows, run_features_from_rows
from ..models import LabelSource, ReferencePair


def run_features_frame(*, run_numbers: Iterable[int] | None = None) -> pd.DataFrame:
    """Run features from the OMS mirror in one query (runs joined with their fill), with
    the Run Registry's certified-good lumisections."""
    rows = ingestion_selectors.run_feature_rows(run_numbers=run_numbers)
    frame = run_features_from_rows(
        rows, list(ingestion_selectors.RUN_FEATURE_FIELDS), lumisection_seconds=LUMISECTION_SECONDS
    )
    # Certified-good lumisections from the Run Registry; the certification masks, where
    # REFRUN_DATA has them, replace these for the runs they cover (ml.certification).
    good = ingestion_selectors.good_lumisections_by_run(run_numbers=run_numbers)
    if good:
        frame["good_ls"] = frame.index.map(good).astype(float)
    return frame


_LABEL_FIELDS = (
    "run_reconstruction__run__run_number",
    "run_reconstruction__reconstruction",
    "reference__run__run_number",
    "reference__reconstruction",
    "run_reconstruction__dataset",
    "run_reconstruction__run__run_class",
    "is_positive",
    "source",
    "id",
    "recorded_at",
    "run_reconstruction_id",
    "reference_id",
)


def labels_frame() -> pd.DataFrame:
    """Labels from the database (Certhelper and shifter feedback), in one query."""
    return labels_read()[0]


def labels_read(*, after_id: int = 0) -> tuple[pd.DataFrame, tuple[int, ...], int]:
    """The labels with a row id above `after_id` (all by default): their frame, their
    fingerprint (`labels_fingerprint` of just these rows) and their highest row id."""
    rows = list(ReferencePair.objects.filter(id__gt=after_id).values_list(*_LABEL_FIELDS))
    return labels_from_rows(rows), _rows_fingerprint(rows), max((row[8] for row in rows), default=after_id)


def _rows_fingerprint(rows: list[tuple]) -> tuple[int, ...]:
    """`labels_fingerprint` of these rows (of _LABEL_FIELDS), in the order of _FINGERPRINT."""
    return (
        len(rows),
        sum(row[8] for row in rows),
        sum(row[8] * row[11] for row in rows),
        sum(row[8] * row[10] for row in rows),
        sum(row[8] for row in rows if row[6]),
        sum(row[8] for row in rows if row[7] == LabelSource.SHIFTER),
    )


def _product(a: str, b: str):
    return ExpressionWrapper(F(a) * F(b), output_field=BigIntegerField())


# Sums over the rows that change when a row is added, removed, or moved to another
# reference, run reconstruction, sign or source (weighted by the row id, so that two
# rows swapping references change them too).
_FINGERPRINT = {
    "n": Count("id"),
    "ids": Sum("id"),
    "references": Sum(_product("id", "reference_id")),
    "run_reconstructions": Sum(_product("id", "run_reconstruction_id")),
    "positive": Sum(Case(When(is_positive=True, then=F("id")), default=Value(0), output_field=BigIntegerField())),
    "shifter": Sum(
        Case(When(source=LabelSource.SHIFTER, then=F("id")), default=Value(0), output_field=BigIntegerField())
    ),
}


def labels_fingerprint() -> tuple[int, ...]:
    """The label table's fingerprint in one aggregate (no join): the serving cache
    checks that it equals that of the labels it holds plus those it has just read,
    i.e. that no label was removed or changed in place."""
    sums = ReferencePair.objects.aggregate(**_FINGERPRINT)
    return tuple(int(sums[name] or 0) for name in _FINGERPRINT)
