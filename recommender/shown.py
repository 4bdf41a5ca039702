"""What a run page showed, signed into the page it is decided on.

A decision must name one of the references RefRun showed (services.feedback_record).
Recomputing them when it arrives refused a shifter whose page had been computed before
another decision or a new model changed the ranking, and cost a recommendation per
decision; the page instead carries its own record, signed with the site's secret key,
which nobody can alter without the signature failing.
"""

from __future__ import annotations

import datetime as dt

from django.core import signing

from .exceptions import InvalidFeedback

_SALT = "refrun.recommender.shown"
# A page left open over a night shift is still decided on; an older one is reloaded.
MAX_AGE = dt.timedelta(days=2)


def shown_sign(*, run_number: int, reconstruction: str, model_version_id: int | None, references: list[int]) -> str:
    return signing.dumps([run_number, reconstruction, model_version_id, list(references)], salt=_SALT)


def shown_references(token: str, *, run_number: int, reconstruction: str, model_version_id: int | None) -> list[int]:
    """The references the page that carried `token` showed for this run reconstruction
    and model version; InvalidFeedback when it was altered, is too old or belongs to
    another page."""
    try:
        shown_run, shown_reconstruction, shown_model, references = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidFeedback("the page was shown more than two days ago; reload it and decide again") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidFeedback(
            "the page's record of what it showed is not valid; reload the page and decide again"
        ) from None
    if (shown_run, shown_reconstruction, shown_model) != (run_number, reconstruction, model_version_id):
        raise InvalidFeedback(
            f"the page's record of what it showed is for another run or model, not run {run_number} "
            f"({reconstruction}); reload the page and decide again"
        )
    return [int(reference) for reference in references]
