"""Per-user limits on writes (DRF throttling), shared by the API and the pages."""

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class FeedbackWriteThrottle(UserRateThrottle):
    """Decisions per user (FEEDBACK_WRITE_RATE), counted together for the API and the
    run page's form, so a script with a token cannot flood the training labels."""

    scope = "feedback"

    def get_rate(self) -> str:
        # Read at each request, not at import like DRF's rate table: settings can change in tests.
        return settings.FEEDBACK_WRITE_RATE
