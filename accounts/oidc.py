"""CERN SSO (Keycloak OIDC) login, switched on by settings alone (OIDC_RP_CLIENT_ID).

- An SSO identity is the provider's (issuer, subject) pair, stored in
  SsoIdentity; the username claim only names a new account, so a local account
  that happens to share it (an admin's, say) is never handed over.
- Roles come from the token's role claim (CERN SSO: `cern_roles`, set per
  application in the CERN application portal) and are mapped onto RefRun's
  groups at every login and at every session refresh: `RefRunSessionRefresh`
  re-authenticates a browser session silently (prompt=none) once
  OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS have passed, for any method, so a revoked
  role is gone within that time.
- API tokens of SSO users re-read the roles on the same schedule with the
  provider's refresh token (`SsoTokenAuthentication`), and stop working when
  the provider refuses.
"""

import datetime as dt
import logging
import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh
from requests.exceptions import RequestException
from rest_framework.exceptions import AuthenticationFailed

from .models import SsoIdentity
from .roles import SHIFT_LEADERS, SHIFTERS, role_group
from .tokens import ExpiringTokenAuthentication

logger = logging.getLogger(__name__)
NAME_LENGTH = 150


def _now() -> dt.datetime:
    # time.time(), as mozilla-django-oidc's refresh clock uses it.
    return dt.datetime.fromtimestamp(time.time(), tz=dt.UTC)


def _text(claims: dict, name: str) -> str:
    """A claim as text: absent, null or not a string (e.g. given_name: null) is ''."""
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _roles(claims: dict) -> set[str]:
    value = claims.get(settings.OIDC_ROLES_CLAIM)
    if isinstance(value, str):
        # A provider may send a single role as a string; set("shifter") would be its letters.
        return {value}
    if isinstance(value, list | tuple):
        return {role for role in value if isinstance(role, str)}
    return set()


def _role_groups() -> dict[str, set[str]]:
    return {
        SHIFTERS: set(settings.OIDC_SHIFTER_ROLES),
        SHIFT_LEADERS: set(settings.OIDC_SHIFT_LEADER_ROLES),
    }


def _roles_overdue(identity: SsoIdentity) -> bool:
    age = _now() - identity.roles_read_at
    return age.total_seconds() >= settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS


class RefRunOIDCBackend(OIDCAuthenticationBackend):
    def get_token(self, payload):
        # mozilla-django-oidc keeps only the access and id tokens; the refresh
        # token is what lets an API token renew its roles later.
        self.token_info = super().get_token(payload)
        return self.token_info

    def verify_claims(self, claims) -> bool:
        return bool(_text(claims, settings.OIDC_USERNAME_CLAIM) and _text(claims, "sub"))

    def filter_users_by_claims(self, claims):
        """Never by username or email: only an identity already bound to the subject."""
        issuer = getattr(self, "issuer", settings.OIDC_OP_ISSUER)
        return self.UserModel.objects.filter(sso_identity__issuer=issuer, sso_identity__subject=_text(claims, "sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        expected_issuer = settings.OIDC_OP_ISSUER
        if payload.get("iss") != expected_issuer:
            raise SuspiciousOperation(f"id token issuer {payload.get('iss')!r} is not {expected_issuer!r}")
        audience = payload.get("aud")
        if self.OIDC_RP_CLIENT_ID not in (audience if isinstance(audience, list) else [audience]):
            raise SuspiciousOperation("id token was not issued to RefRun")
        self.issuer = expected_issuer
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SuspiciousOperation("claims lack a subject or a username")
        if claims["sub"] != payload.get("sub"):
            # OpenID Connect Core 5.3.2: userinfo of another subject must not be used.
            raise SuspiciousOperation("userinfo subject differs from the id token's")

        with transaction.atomic():
            identity = (
                SsoIdentity.objects.select_for_update()
                .select_related("user")
                .filter(issuer=expected_issuer, subject=claims["sub"])
                .first()
            )
            if identity is None:
                if not self.get_settings("OIDC_CREATE_USER", True):
                    return None
                user = self.create_user(claims)
                identity = SsoIdentity(issuer=expected_issuer, subject=claims["sub"], user=user)
            else:
                user = self.update_user(identity.user, claims)
            identity.roles_read_at = _now()
            identity.refresh_token = getattr(self, "token_info", {}).get("refresh_token") or ""
            identity.save()
        return user

    def create_user(self, claims):
        user = self.UserModel.objects.create_user(username=self._free_username(claims), email=_text(claims, "email"))
        user.set_unusable_password()
        return self.update_user(user, claims)

    def _free_username(self, claims) -> str:
        wanted = _text(claims, settings.OIDC_USERNAME_CLAIM)[: NAME_LENGTH - 10]
        candidate, n = wanted, 1
        while self.UserModel.objects.filter(username=candidate).exists():
            # A local account owns the name: the SSO identity gets its own account.
            candidate = f"{wanted}+sso" if n == 1 else f"{wanted}+sso{n}"
            n += 1
        if candidate != wanted:
            logger.warning("SSO username %r belongs to another account; created %r", wanted, candidate)
        return candidate

    def update_user(self, user, claims):
        user.email = _text(claims, "email") or user.email
        user.first_name = _text(claims, "given_name")[:NAME_LENGTH]
        user.last_name = _text(claims, "family_name")[:NAME_LENGTH]
        roles = _roles(claims)
        # Shift leaders curate references in the admin, as the demo's leader does.
        user.is_staff = user.is_superuser or bool(roles & set(settings.OIDC_SHIFT_LEADER_ROLES))
        user.save()
        for group_name, granting_roles in _role_groups().items():
            group = role_group(group_name)
            if roles & granting_roles:
                user.groups.add(group)
            else:
                user.groups.remove(group)
        return user

    def get_user(self, user_id):
        # Django's check (is_active), which mozilla-django-oidc's get_user skips:
        # a deactivated SSO account's session ends at its next request.
        return ModelBackend.get_user(self, user_id)

    def roles_renew(self, identity: SsoIdentity) -> None:
        """Read the roles again with the refresh token, without a browser.

        Raises RequestException or SuspiciousOperation when the provider refuses
        (session ended, account disabled) or answers for another subject.
        """
        if not identity.refresh_token:
            raise SuspiciousOperation("no refresh token stored for this identity")
        token_info = self.get_token(
            {
                "client_id": self.OIDC_RP_CLIENT_ID,
                "client_secret": self.OIDC_RP_CLIENT_SECRET,
                "grant_type": "refresh_token",
                "refresh_token": identity.refresh_token,
            }
        )
        claims = self.get_userinfo(token_info["access_token"], token_info.get("id_token"), None)
        if _text(claims, "sub") != identity.subject:
            raise SuspiciousOperation("userinfo subject differs from the stored identity's")
        self.update_user(identity.user, claims)
        identity.refresh_token = token_info.get("refresh_token") or identity.refresh_token
        identity.roles_read_at = _now()
        identity.save(update_fields=["refresh_token", "roles_read_at", "updated_at"])


class RefRunSessionRefresh(SessionRefresh):
    """mozilla-django-oidc's refresh, for every method rather than GET only: a
    form post from a page left open past the refresh interval would otherwise
    act on roles that may have been revoked. Such a post is sent through the
    silent re-authentication back to the page it came from, with a message."""

    def is_refreshable_url(self, request) -> bool:
        backend_path = request.session.get(BACKEND_SESSION_KEY)
        is_oidc = bool(backend_path) and issubclass(import_string(backend_path), OIDCAuthenticationBackend)
        return (
            request.user.is_authenticated
            and is_oidc
            and request.path not in self.exempt_urls
            and not any(pattern.match(request.path) for pattern in self.exempt_url_patterns)
        )

    def process_request(self, request):
        response = super().process_request(request)
        if response is not None and request.method not in ("GET", "HEAD"):
            referer = request.headers.get("referer", "")
            safe = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
            request.session["oidc_login_next"] = referer if safe else resolve_url(settings.LOGIN_REDIRECT_URL)
            messages.warning(
                request, "Your CERN SSO roles were due to be checked again, so nothing was saved: please submit again."
            )
        return response


def provider_logout_url(request) -> str:
    """Where RefRun's logout sends a browser: through CERN SSO's end-session
    endpoint for an SSO session, straight to the login page otherwise."""
    login_page = resolve_url(settings.LOGOUT_REDIRECT_URL)
    id_token = request.session.get("oidc_id_token")
    if not id_token:
        return login_page
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "post_logout_redirect_uri": request.build_absolute_uri(login_page),
        }
    )
    return f"{settings.OIDC_OP_LOGOUT_ENDPOINT}?{query}"


class SsoTokenAuthentication(ExpiringTokenAuthentication):
    """DRF tokens with a lifetime (accounts.tokens), and the roles of an SSO user's
    token kept as fresh as a browser session's: read again from the provider once
    overdue, and the token refused when the provider no longer vouches for the person."""

    refused = "The CERN SSO roles behind this token could not be renewed: log in to RefRun with CERN SSO again."

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        identity = SsoIdentity.objects.filter(user=user).first()
        if identity is None or not _roles_overdue(identity):
            return user, token
        if not settings.OIDC_ENABLED:
            raise AuthenticationFailed(self.refused)
        with transaction.atomic():
            # One renewal at a time: the provider rotates refresh tokens, so a
            # second request renewing with the same one would be refused.
            identity = SsoIdentity.objects.select_for_update().select_related("user").get(pk=identity.pk)
            if _roles_overdue(identity):
                try:
                    RefRunOIDCBackend().roles_renew(identity)
                except (RequestException, SuspiciousOperation, KeyError, ValueError) as error:
                    logger.warning("SSO roles of %s not renewed: %s", identity.user.username, error)
                    raise AuthenticationFailed(self.refused) from None
        user.refresh_from_db()
        if not user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return user, token
