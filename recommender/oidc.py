"""CERN SSO (Keycloak OIDC) login, switched on by settings alone (OIDC_RP_CLIENT_ID).

Roles come from the token's role claim (CERN SSO: `cern_roles`, set per
application in the CERN application portal) and are mapped onto RefRun's groups
at every login, so revoking a role in the portal revokes it here.
"""

from django.conf import settings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .roles import SHIFT_LEADERS, SHIFTERS, role_group


def _role_groups() -> dict[str, set[str]]:
    return {
        SHIFTERS: set(settings.OIDC_SHIFTER_ROLES),
        SHIFT_LEADERS: set(settings.OIDC_SHIFT_LEADER_ROLES),
    }


class RefRunOIDCBackend(OIDCAuthenticationBackend):
    def filter_users_by_claims(self, claims):
        username = claims.get(settings.OIDC_USERNAME_CLAIM)
        if not username:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(username=username)

    def verify_claims(self, claims) -> bool:
        return bool(claims.get(settings.OIDC_USERNAME_CLAIM)) and super().verify_claims(claims)

    def create_user(self, claims):
        user = self.UserModel.objects.create_user(
            username=claims[settings.OIDC_USERNAME_CLAIM], email=claims.get("email", "")
        )
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        user.email = claims.get("email", user.email)
        user.first_name = claims.get("given_name", user.first_name)[:150]
        user.last_name = claims.get("family_name", user.last_name)[:150]
        roles = set(claims.get(settings.OIDC_ROLES_CLAIM) or [])
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
