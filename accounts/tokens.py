"""API tokens (DRF's authtoken) with a lifetime: a token works for
API_TOKEN_LIFETIME_DAYS from its creation, then the API answers 401 and an admin
issues a new one (admin: delete the token, add one for the user). Without it a token
copied once, into a script on a shared console or a pasted curl line, worked for ever."""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_expires_at(token: Token) -> dt.datetime:
    return token.created + dt.timedelta(days=settings.API_TOKEN_LIFETIME_DAYS)


def token_is_expired(token: Token) -> bool:
    return timezone.now() >= token_expires_at(token)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token past its lifetime."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            expired_on = token_expires_at(token).strftime("%Y-%m-%d")
            raise AuthenticationFailed(f"This API token expired on {expired_on}: ask a RefRun admin for a new one.")
        return user, token
