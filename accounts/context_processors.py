from django.conf import settings

from .roles import is_shift_leader


def roles(request) -> dict:
    """Lets templates show shift-leader links (the views check the role again)
    and the CERN SSO button where OIDC is configured."""
    return {"user_is_shift_leader": is_shift_leader(request.user), "oidc_enabled": settings.OIDC_ENABLED}
